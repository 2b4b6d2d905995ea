package dev.visor.daemon.vm;

import dev.visor.daemon.DaemonPaths;
import dev.visor.daemon.images.ImageStore;
import dev.visor.daemon.model.DiskRef;
import dev.visor.daemon.model.VmDefinition;
import dev.visor.daemon.model.VmRecord;
import dev.visor.daemon.security.Isolation;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Starts a VM's VMM: a {@code visor run} process of its own (one OS process per VM, so a guest
 * that breaks its VMM takes nothing else down). The VMM gets a control socket, a console socket
 * and log, and an exit-status file in the VM's run directory; its stdin is /dev/null and its own
 * messages go to vmm.log. It runs in a session of its own, so it outlives a daemon restart and
 * the daemon's terminal. When the daemon runs as root it runs as a user of its own, in a cgroup
 * with limits where there is cgroup v2 ({@link Isolation}).
 */
public final class VmmLauncher {
    private static final Path SETSID = Path.of("/usr/bin/setsid");

    private final List<String> vmmCommand;
    private final DaemonPaths paths;
    private final ImageStore images;
    private final Map<String, String> environment;
    private final Isolation isolation;

    /**
     * @param vmmCommand the command that is {@code visor} (e.g. java, its options, -cp, the main class);
     *                   "run" and the VM's options are appended
     * @param environment extra environment for the VMM (e.g. VISOR_CACHE)
     */
    public VmmLauncher(List<String> vmmCommand, DaemonPaths paths, ImageStore images, Map<String, String> environment) {
        this(vmmCommand, paths, images, environment, Isolation.forDaemon(paths, environment));
    }

    /** As above, isolating VMMs as {@code isolation} says (tests choose it). */
    public VmmLauncher(List<String> vmmCommand, DaemonPaths paths, ImageStore images, Map<String, String> environment,
                       Isolation isolation) {
        this.vmmCommand = List.copyOf(vmmCommand);
        this.paths = paths;
        this.images = images;
        this.environment = Map.copyOf(environment);
        this.isolation = isolation;
    }

    public Isolation isolation() { return isolation; }

    /** The {@code visor run} arguments for {@code vm} (after the VMM command). */
    List<String> runArguments(VmRecord vm) throws IOException {
        return runArguments(vm, null);
    }

    /**
     * The arguments; with {@code incoming} (tcp:HOST:PORT) the VMM waits for a live migration instead
     * of booting, and its disks are where the migration's storage copy goes (they need not exist).
     */
    List<String> runArguments(VmRecord vm, String incoming) throws IOException {
        VmDefinition d = vm.definition();
        long id = vm.id();
        List<String> a = new ArrayList<>(List.of("run"));
        if (incoming != null) a.addAll(List.of("--incoming", incoming));
        if (d.snapshot() != null) {
            String[] parts = d.snapshot().split("/", 2);
            Path overlays = paths.vmDir(id).resolve("overlays");
            deleteTree(overlays); // each start of a clone resumes its snapshot afresh
            a.addAll(List.of("--restore", paths.snapshot(parts[0], parts[1]).toString(), "--overlay-dir", overlays.toString()));
        } else {
            a.addAll(List.of("--cpus", Integer.toString(d.cpus()), "--memory", Long.toString(d.memoryBytes())));
            for (DiskRef disk : d.disks()) {
                a.add("--disk");
                Path p = incoming != null ? images.path(disk.image()) : images.existing(disk.image());
                a.add(p + (disk.readonly() ? ",readonly=on" : ""));
            }
            if (!d.rng()) a.add("--no-rng");
            if (d.balloon()) a.add("--balloon");
            if (d.append() != null) a.addAll(List.of("--append", d.append()));
        }
        for (String net : d.nets()) a.addAll(List.of("--net", net));
        a.addAll(List.of(
                "--control", paths.controlSocket(id).toString(),
                "--serial-socket", paths.consoleSocket(id).toString(),
                "--serial-log", paths.consoleLog(id).toString(),
                "--exit-status-file", paths.exitStatus(id).toString()));
        return a;
    }

    /** Starts the VMM process for {@code vm}; its run directory is emptied first. */
    public Process launch(VmRecord vm) throws IOException {
        return launch(vm, null);
    }

    /** Starts the VMM; with {@code incoming} (tcp:HOST:PORT) it waits for a live migration. */
    public Process launch(VmRecord vm, String incoming) throws IOException {
        long id = vm.id();
        Path run = paths.runDir(id);
        deleteTree(run);
        Files.createDirectories(run);
        Files.createDirectories(paths.vmDir(id));
        List<String> args = runArguments(vm, incoming);
        // after runArguments (it empties a clone's overlays dir): hands the VM's files to its user
        Isolation.Launch as = isolation.prepare(vm, vmmCommand, environment);
        List<String> cmd = new ArrayList<>();
        if (Files.isExecutable(SETSID)) cmd.add(SETSID.toString());
        cmd.addAll(as.command());
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .redirectInput(new File("/dev/null"))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(paths.vmmLog(id).toFile()))
                .redirectErrorStream(true);
        pb.environment().putAll(environment);
        pb.environment().putAll(as.environment());
        Files.writeString(paths.vmmLog(id), "--- " + java.time.Instant.now() + " " + String.join(" ", args) + "\n",
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
        Process p = pb.start();
        isolation.started(vm, p);
        return p;
    }

    /** The last non-empty line the VMM wrote to its log (its error message when it failed to start). */
    public String lastLogLine(long id) {
        try {
            List<String> lines = Files.readAllLines(paths.vmmLog(id));
            for (int i = lines.size() - 1; i >= 0; i--) {
                String l = lines.get(i).strip();
                if (!l.isEmpty() && !l.startsWith("--- ")) return l.startsWith("visor: ") ? l.substring(7) : l;
            }
        } catch (IOException ignored) {
            // no log: nothing to say
        }
        return null;
    }

    /** The port an incoming VMM listens on, from its log ("(port N)"), or -1 when it has not said yet. */
    public int incomingPort(long id) {
        try {
            List<String> lines = Files.readAllLines(paths.vmmLog(id));
            for (int i = lines.size() - 1; i >= 0 && !lines.get(i).startsWith("--- "); i--) {
                var m = java.util.regex.Pattern.compile("waiting for a migration .*\\(port (\\d+)\\)").matcher(lines.get(i));
                if (m.find()) return Integer.parseInt(m.group(1));
            }
        } catch (IOException ignored) {
            // not written yet
        }
        return -1;
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return;
        try (var s = Files.walk(p)) {
            for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        }
    }
}
