package dev.visor.cli;

import dev.visor.daemon.Daemon;
import dev.visor.daemon.DaemonException;
import dev.visor.daemon.store.StoreException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/** {@code visor daemon}: runs visord, the host daemon, in the foreground until it is stopped (SIGTERM, Ctrl-C). */
@Command(name = "daemon",
        mixinStandardHelpOptions = true,
        description = {"Run visord, the host daemon: VM definitions in SQLite, one supervised VMM process per VM, "
                + "the REST API (see /api/v1/openapi.json), consoles, events and metrics.",
                "Stopping the daemon leaves the VMs running; the next daemon re-attaches to them."},
        usageHelpAutoWidth = true)
final class DaemonCommand implements java.util.concurrent.Callable<Integer> {
    @Option(names = "--state-dir", paramLabel = "DIR",
            description = "Where definitions, images, snapshots and logs are kept (default: $VISOR_STATE_DIR, "
                    + "else /var/lib/visor as root, else ~/.local/share/visor).")
    Path stateDir;

    @Option(names = "--listen", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:7445",
            description = "The API's address (default: ${DEFAULT-VALUE}; port 0 picks a free one and prints it).")
    String listen;

    @Override
    public Integer call() throws Exception {
        Path dir = stateDir != null ? stateDir : defaultStateDir();
        int colon = listen.lastIndexOf(':');
        if (colon < 0) throw new CliException("--listen " + listen + ": give HOST:PORT, e.g. 127.0.0.1:7445");
        String host = listen.substring(0, colon);
        int port;
        try {
            port = Integer.parseInt(listen.substring(colon + 1));
            if (port < 0 || port > 65535) throw new NumberFormatException();
        } catch (NumberFormatException e) {
            throw new CliException("--listen " + listen + ": the port must be a number from 0 to 65535");
        }
        Daemon daemon;
        try {
            daemon = Daemon.start(new Daemon.Config(dir, host, port, vmmCommand(), Map.of()));
        } catch (StoreException | DaemonException e) {
            throw new CliException(e.getMessage(), e);
        } catch (IOException e) {
            if (e.getMessage() != null && e.getMessage().contains("in use")) throw new CliException("--listen " + listen + ": the address is in use (is a daemon running already?)", e);
            throw e;
        } catch (RuntimeException e) {
            // Jetty reports a taken port as an unchecked exception wrapping a BindException
            if (e.getCause() instanceof java.net.BindException) throw new CliException("--listen " + listen + ": the address is in use (is a daemon running already?)", e);
            throw e;
        }
        System.err.println("visord: listening on http://" + host + ":" + daemon.port() + " (state in " + daemon.paths().stateDir() + ")");
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            daemon.close();
            stop.countDown();
        }, "visord-stop"));
        stop.await();
        return 0;
    }

    /** The state directory when none is given. */
    static Path defaultStateDir() {
        String env = System.getenv("VISOR_STATE_DIR");
        if (env != null && !env.isBlank()) return Path.of(env);
        boolean root = "root".equals(System.getProperty("user.name"));
        return root ? Path.of("/var/lib/visor") : Path.of(System.getProperty("user.home"), ".local", "share", "visor");
    }

    /** This JVM again, with the VMM's JVM options and visor's class path: each VM is {@code visor run} in a process of its own. */
    static List<String> vmmCommand() {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        String extra = System.getenv("VISOR_VMM_JAVA_OPTS");
        List<String> extras = extra == null || extra.isBlank() ? List.of() : List.of(extra.strip().split("\\s+"));
        cmd.add("--enable-native-access=ALL-UNNAMED");
        // the collector and heap ./visor uses, unless VISOR_VMM_JAVA_OPTS picks others (two collectors would be refused)
        if (extras.stream().noneMatch(o -> o.matches("-XX:\\+Use\\w*GC"))) cmd.add("-XX:+UseParallelGC");
        if (extras.stream().noneMatch(o -> o.startsWith("-Xmx"))) cmd.add("-Xmx512m");
        cmd.add("-Xss16m");
        // as ./visor: HotSpot keeps both sides of translated guest code's branches (see the comment there)
        cmd.add("-XX:PerMethodTrapLimit=0");
        // as ./visor for visor run: no on-stack replacement in a VM's process (see the comment there)
        cmd.add("-XX:-UseOnStackReplacement");
        // ./visor's AOT cache (classes linked ahead of time, a training boot's profiles): VMMs start their guests sooner
        String aot = System.getenv("VISOR_AOT_CACHE");
        if (aot != null && java.nio.file.Files.isReadable(Path.of(aot))) cmd.add("-XX:AOTCache=" + aot);
        cmd.addAll(extras);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        return cmd;
    }
}
