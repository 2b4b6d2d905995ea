package dev.visor.bench;

import dev.visor.images.GuestImage;
import dev.visor.images.ImageException;
import dev.visor.images.ImageStore;
import dev.visor.images.InitramfsBuilder;
import dev.visor.vmm.VmSpec;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static dev.visor.bench.BenchSupport.firstLine;
import static dev.visor.bench.BenchSupport.loadAverage;
import static dev.visor.bench.BenchSupport.num;
import static dev.visor.bench.BenchSupport.onPath;
import static dev.visor.bench.BenchSupport.positive;
import static dev.visor.bench.BenchSupport.seconds;

/**
 * Measures Visor's live migration against QEMU's, in one run: the same guest (the default image's
 * kernel, initramfs and OpenSBI fw_jump.bin, one vCPU, 512 MiB, no NIC, no rng) booted in Visor
 * ({@code ./visor run --control SOCK}) and in QEMU ({@code qemu-system-riscv64 -M virt -serial stdio -qmp unix:SOCK}),
 * each as a child process with its console on stdin/stdout, and moved to a destination process of
 * the same engine on this machine ({@code ./visor run --incoming tcp:127.0.0.1:PORT},
 * {@code qemu-system-riscv64 ... -incoming tcp:127.0.0.1:PORT}), twice per engine and round:
 * <ol>
 *   <li>idle: the booted guest at its shell prompt, source 1 to destination 1;</li>
 *   <li>busy: a second boot whose guest runs dd from /dev/zero to /dev/null with a 16 MiB buffer in
 *       a loop, {@value #DEFAULT_BUSY_MIB} MiB per dd (so each process also maps and zeroes a fresh
 *       buffer), source 2 to destination 2. Not a file on tmpfs, as up to stop 13: QEMU 7.2's guest
 *       writes tmpfs at about 2 MB/s on this host (Visor's at 60), so its "busy" guest barely wrote
 *       and the two VMMs' busy figures were not comparable. A fresh boot rather than
 *       destination 1, so that a destination that does not come back (QEMU 7.2's often do not here)
 *       does not end the run.</li>
 * </ol>
 * For each migration it takes the VMM's own figures (Visor: the answer of the control socket's
 * {@code migrate}, the line {@code visor control SOCK migrate} prints; QEMU: QMP {@code migrate}, then
 * {@code query-migrate} polled until completed): total time, downtime, rounds and bytes sent. The two
 * VMMs do not measure downtime alike (Visor: from the source's pause until the guest runs at the
 * destination, the source's pause-to-READY plus the destination's READY-to-resumed; QEMU 7.2 without a return path: from the source's stop until it has sent the last
 * byte, the destination's loading and restart left out), so the benchmark also measures one
 * downtime the same way for both, from outside: a guest loop prints a numbered tick every 10 ms
 * and the console gap is the time between the last tick the host read from the source and the first
 * it read from the destination (also checking that the numbers run on without a gap or reset); and,
 * to the microsecond, the guest's pause: the wall-clock instant the source's vCPUs stopped to the one
 * the destination's went on (Visor logs them as {@code stopped_at_us} and {@code resumed_at_us}; QEMU
 * runs with {@code -trace vm_state_notify -trace migrate_set_state -msg timestamp=on -D FILE}, whose
 * lines carry the wall clock's microseconds). Both processes run on this host, so one clock serves.
 * The busy guest's pause is the figure with the target "below QEMU's".
 * After each migration the destination's shell must answer a command and the source must exit 0.
 *
 * <p>QEMU runs with its defaults except the bandwidth limit, which is raised to
 * {@value #QEMU_MAX_BANDWIDTH} bytes/s (its default caps migration at 128 MiB/s; Visor has no cap);
 * its downtime limit stays 300 ms, Visor's default target; the benchmark prints the defaults it found. Visor only, from the same boot: a
 * snapshot of the booted guest ({@code snapshot DIR} on the control socket) and, at the end of the
 * round, {@code visor run --restore DIR}: the restore time it prints (in-process) and the time from
 * the process's start until the restored guest answers a command. Run it through
 * {@code bench/migrate-vs-qemu}, which builds what it needs first.
 */
public final class MigrationBenchmark {
    static final String MARKER = InitramfsBuilder.READY_MARKER;
    static final String PROMPT = "~ # ";
    static final int DEFAULT_BUSY_MIB = 64;
    /** The busy workload's dd buffer (bs) in MiB; its counter in /t/n counts MiB written. */
    static final int CHUNK_MIB = 16;
    static final long QEMU_MAX_BANDWIDTH = 10L << 30;
    /** How long a destination has to print its first tick after a migration. */
    static final Duration TICK_WAIT = Duration.ofSeconds(10);
    /** A tick line of the guest's ticker loop: "@T" and its number. */
    static final Pattern TICK = Pattern.compile("@T(\\d+)\r?\n");
    static final Pattern VISOR_RESULT = Pattern.compile(
            "total_ms=([0-9.]+) downtime_ms=([0-9.]+) rounds=(\\d+) sent_mb=([0-9.]+) pages=\\d+ throttle=(\\d+)%");
    static final Pattern VISOR_LAST_BYTE = Pattern.compile("last_byte_ms=([0-9.]+)");
    static final Pattern RESTORED = Pattern.compile("visor: restored .* in (\\d+) ms");
    static final Pattern COUNTS = Pattern.compile("R (\\d+) (\\d+) R");
    /** Visor's source and destination log the wall-clock instants (epoch microseconds) the vCPUs stopped and went on. */
    static final Pattern VISOR_STOPPED = Pattern.compile("stopped_at_us=(\\d+)"), VISOR_RESUMED = Pattern.compile("resumed_at_us=(\\d+)");
    /** QEMU's trace log (-trace ... -msg timestamp=on): "PID@SECONDS.MICROS:event args". */
    static final Pattern QEMU_TRACE = Pattern.compile("^\\d+@(\\d+)\\.(\\d{6}):(vm_state_notify running [01]|migrate_set_state new state \\w+)");

    enum Engine {
        VISOR("Visor"), QEMU("QEMU");
        final String title;
        Engine(String title) { this.title = title; }
    }

    /** How a figure is judged: not at all, Visor's value below a limit, or Visor's value below QEMU's. */
    enum Target { NONE, VISOR_BELOW, BELOW_QEMU }

    enum Figure {
        IDLE_DOWNTIME("idle: downtime, VMM's own figure (ms)", Target.VISOR_BELOW, 50, "Visor < 50 ms"),
        IDLE_PAUSED("idle: guest paused, stop to resume (ms)", Target.NONE, 0, "(same measure)"),
        IDLE_LAST_BYTE("idle: pause to last byte sent (ms)", Target.NONE, 0, "(QEMU's measure)"),
        IDLE_GAP("idle: console gap seen by the host (ms)", Target.NONE, 0, "(same measure)"),
        IDLE_TOTAL("idle: total time (ms)", Target.NONE, 0, ""),
        IDLE_ROUNDS("idle: rounds (QEMU: bitmap syncs)", Target.NONE, 0, ""),
        IDLE_MB("idle: MB sent", Target.NONE, 0, ""),
        BUSY_RATE("busy: guest writes before (MB/s)", Target.NONE, 0, "(workload)"),
        BUSY_DOWNTIME("busy: downtime, VMM's own figure (ms)", Target.NONE, 0, "(not alike)"),
        BUSY_PAUSED("busy: guest paused, stop to resume (ms)", Target.BELOW_QEMU, 0, "Visor < QEMU"),
        BUSY_LAST_BYTE("busy: pause to last byte sent (ms)", Target.NONE, 0, "(QEMU's measure)"),
        BUSY_GAP("busy: console gap seen by the host (ms)", Target.BELOW_QEMU, 0, "(same measure)"),
        BUSY_TOTAL("busy: total time (ms)", Target.NONE, 0, ""),
        BUSY_ROUNDS("busy: rounds (QEMU: bitmap syncs)", Target.NONE, 0, ""),
        BUSY_MB("busy: MB sent", Target.NONE, 0, ""),
        BUSY_THROTTLE("busy: auto-converge throttle, max (%)", Target.NONE, 0, ""),
        SNAPSHOT_PAUSE("snapshot 512 MiB: guest paused (ms)", Target.NONE, 0, ""),
        RESTORE("restore 512 MiB: in-process (ms)", Target.VISOR_BELOW, 100, "Visor < 100 ms"),
        RESTORE_ANSWER("restore: process start to answer (ms)", Target.NONE, 0, "(with JVM start)");

        final String label;
        final Target target;
        final double limit;
        final String targetText;

        Figure(String label, Target target, double limit, String targetText) {
            this.label = label;
            this.target = target;
            this.limit = limit;
            this.targetText = targetText;
        }
    }

    /** The figures of one engine in one round: NaN where a figure could not be taken. */
    static final class Run {
        final Engine engine;
        final int round;
        final double[] value = new double[Figure.values().length];
        final List<String> sourceExits = new ArrayList<>();
        final List<String> answers = new ArrayList<>();
        final List<String> ticks = new ArrayList<>();
        /** Ticks per second: the source's last second, then the destination's first three. */
        final List<String> tickRates = new ArrayList<>();
        final List<String> warnings = new ArrayList<>();
        final List<String> finalExits = new ArrayList<>();
        String error;
        volatile boolean rebuilt;

        Run(Engine engine, int round) {
            this.engine = engine;
            this.round = round;
            Arrays.fill(value, Double.NaN);
        }
    }

    /** What one migration did, as the VMM reports it, plus the host's wall time of the command. */
    record Migration(double totalMs, double downtimeMs, double lastByteMs, int rounds, double sentMb, double throttle, double wallMs,
                     long endNanos, String line) {}

    /** One VMM process: its console, its control socket (Visor) or QMP socket (QEMU), its stderr lines. */
    final class Vm {
        final Engine engine;
        final String name;
        final Process process;
        final ChildConsole console;
        final Path socket;
        /** The port a destination listens on; null for a source. */
        final Integer port;
        final List<String> stderr = new ArrayList<>();
        /** QEMU: its trace log (vm_state_notify, migrate_set_state with wall-clock timestamps); else null. */
        final Path trace;
        MonitorClient monitor;

        Vm(Engine engine, String name, Process process, Path socket, Integer port, Path trace, Run run) {
            this.engine = engine;
            this.trace = trace;
            this.name = name;
            this.process = process;
            this.socket = socket;
            this.port = port;
            this.console = new ChildConsole(name, process.getInputStream(), process.getOutputStream(), showConsole ? err : null);
            Thread.ofPlatform().daemon().name(name + "-stderr").start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        if (line.contains("visor: building")) run.rebuilt = true;
                        synchronized (stderr) {
                            stderr.add(line);
                            stderr.notifyAll();
                        }
                        err.println("    [" + name + " stderr] " + line);
                    }
                } catch (IOException e) {
                    // gone
                }
            });
        }

        /** Waits for a stderr line matching {@code pattern}; returns its match. */
        Matcher waitForStderr(Pattern pattern, Duration timeout) throws InterruptedException, IOException {
            long deadline = System.nanoTime() + timeout.toNanos();
            synchronized (stderr) {
                int seen = 0;
                while (true) {
                    for (; seen < stderr.size(); seen++) {
                        Matcher m = pattern.matcher(stderr.get(seen));
                        if (m.find()) return m;
                    }
                    long left = deadline - System.nanoTime();
                    if (left <= 0 || !process.isAlive() && seen == stderr.size()) {
                        throw new IOException(name + ": no stderr line like '" + pattern + "' "
                                + (process.isAlive() ? "within " + timeout.toSeconds() + " s" : "before it exited") + "; stderr: "
                                + String.join(" | ", stderr.subList(Math.max(0, stderr.size() - 5), stderr.size())));
                    }
                    stderr.wait(Math.max(1, Math.min(left / 1_000_000, 200)));
                }
            }
        }

    }

    // ---- options ---------------------------------------------------------------------------------

    int rounds = 1;
    int memoryMiB = 512;
    int busyMiB = DEFAULT_BUSY_MIB;
    int tickMs = 10;
    String append = VmSpec.DEFAULT_APPEND;
    Path visor;
    String qemu = "qemu-system-riscv64";
    Path dir = Path.of(System.getProperty("java.io.tmpdir"));
    Duration bootTimeout = Duration.ofSeconds(300);
    Duration migrateTimeout = Duration.ofSeconds(180);
    Duration commandTimeout = Duration.ofSeconds(120);
    /** How long a destination's shell has to answer after a migration. */
    Duration answerTimeout = Duration.ofSeconds(30);
    boolean showConsole;

    private final PrintStream out = System.out;
    private final PrintStream err = System.err;
    private final Set<Process> live = ConcurrentHashMap.newKeySet();
    private GuestImage image;
    private Path work;
    private int sentinel;
    private String qemuDefaults = "?";
    private final List<Run> runs = new ArrayList<>();

    static final String USAGE = """
            usage: migrate-vs-qemu [options]
              --rounds N            runs of each VMM (default 1); medians are reported
              --busy-mib N          MiB each of the busy guest's dd runs writes, a multiple of %d (default %d)
              --tick-ms N           period of the guest's console ticker (default 10)
              --dir DIR             where sockets and the snapshot go (default: the system temp directory)
              --append STR          kernel command line for both (default '%s')
              --visor PATH          the visor launcher (default: ./visor of this source tree)
              --qemu PATH           the QEMU binary (default qemu-system-riscv64)
              --boot-timeout S      limit for one boot to the shell (default 300)
              --migrate-timeout S   limit for one migration (default 180)
              --show-console        copy the guests' consoles to stderr
            Extra JVM options for Visor go in VISOR_JAVA_OPTS.
            """.formatted(CHUNK_MIB, DEFAULT_BUSY_MIB, VmSpec.DEFAULT_APPEND);

    public static void main(String[] args) throws Exception {
        MigrationBenchmark b = new MigrationBenchmark();
        try {
            b.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("migrate-vs-qemu: " + e.getMessage());
            System.err.print(USAGE);
            System.exit(2);
        }
        System.exit(b.run());
    }

    void parse(String[] args) {
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String v = null;
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0) {
                v = a.substring(eq + 1);
                a = a.substring(0, eq);
            }
            switch (a) {
                case "-h", "--help" -> {
                    System.out.print(USAGE);
                    System.exit(0);
                }
                case "--show-console" -> showConsole = true;
                default -> {
                    if (v == null) {
                        if (i + 1 >= args.length) throw new IllegalArgumentException(a + " needs a value");
                        v = args[++i];
                    }
                    switch (a) {
                        case "--rounds" -> rounds = positive(a, v);
                        case "--busy-mib" -> busyMiB = positive(a, v);
                        case "--tick-ms" -> tickMs = positive(a, v);
                        case "--dir" -> dir = Path.of(v);
                        case "--append" -> append = v;
                        case "--visor" -> visor = Path.of(v);
                        case "--qemu" -> qemu = v;
                        case "--boot-timeout" -> bootTimeout = Duration.ofSeconds(positive(a, v));
                        case "--migrate-timeout" -> migrateTimeout = Duration.ofSeconds(positive(a, v));
                        default -> throw new IllegalArgumentException("unknown option " + a);
                    }
                }
            }
        }
        if (busyMiB % CHUNK_MIB != 0 || busyMiB > 4096) {
            throw new IllegalArgumentException("--busy-mib must be a multiple of " + CHUNK_MIB + ", at most 4096");
        }
        if (visor == null) {
            String root = System.getProperty("visor.root");
            visor = Path.of(root != null ? root : ".").resolve("visor");
        }
    }

    // ---- the run ---------------------------------------------------------------------------------

    int run() throws Exception {
        if (!Files.isExecutable(visor)) {
            err.println("migrate-vs-qemu: " + visor + " is not an executable visor launcher (use --visor)");
            return 1;
        }
        String qemuPath = onPath(qemu);
        if (qemuPath == null) {
            err.println("migrate-vs-qemu: " + qemu + " not found: apt-get install qemu-system-misc (or --qemu PATH)");
            return 1;
        }
        if (!Files.isDirectory(dir) || !Files.isWritable(dir)) {
            err.println("migrate-vs-qemu: " + dir + " is not a writable directory (use --dir)");
            return 1;
        }
        try {
            image = new ImageStore().defaultImage(err);
        } catch (ImageException e) {
            err.println("migrate-vs-qemu: the guest image: " + e.getMessage());
            return 1;
        }
        work = Files.createTempDirectory(dir, "visor-migrate-bench-");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            live.forEach(Process::destroyForcibly);
            deleteTree(work);
        }));

        out.println("Visor vs QEMU: live migration on this host (loopback TCP), " + rounds + " round(s), 1 vCPU, " + memoryMiB + " MiB");
        out.println("  host:    " + Runtime.getRuntime().availableProcessors() + " CPUs, load average " + loadAverage());
        out.println("  guest:   kernel " + image.kernelVersion() + " (" + image.directory() + ": Image, initrd.gz, fw_jump.bin)");
        out.println("  append:  " + append);
        out.println("  visor:   " + String.join(" ", command(Engine.VISOR, work.resolve("SOCK"), null, null)) + "  [destination: + --incoming tcp:127.0.0.1:PORT]");
        out.println("  qemu:    " + String.join(" ", command(Engine.QEMU, work.resolve("SOCK"), null, work.resolve("TRACE"))) + "  [destination: + -incoming tcp:127.0.0.1:PORT]   ("
                + firstLine(qemuPath, "--version") + ")");
        out.println("  busy:    the guest runs dd if=/dev/zero of=/dev/null bs=" + CHUNK_MIB + "M count=" + busyMiB / CHUNK_MIB + " in a loop");
        out.println("  ticker:  the guest prints @T<n> every " + tickMs + " ms (the console gap is measured on it)");
        out.flush();

        warmUpLauncher();

        for (int r = 1; r <= rounds; r++) {
            Engine[] order = r % 2 == 1 ? new Engine[] {Engine.VISOR, Engine.QEMU} : new Engine[] {Engine.QEMU, Engine.VISOR};
            for (Engine e : order) runs.add(measure(e, r));
        }
        printTable();
        deleteTree(work);
        return runs.stream().anyMatch(x -> x.error != null) ? 1 : 0;
    }

    /** Runs the launcher once (it builds Visor when sources changed) so no build lands inside a measurement. */
    private void warmUpLauncher() throws IOException, InterruptedException {
        out.println("  warming up the launcher: " + visor + " --version");
        Process p = new ProcessBuilder(visor.toString(), "--version").redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        p.waitFor();
        out.println("    " + text.replace("\n", "\n    "));
        out.println();
    }

    /** The VMM's command line: control (Visor) or QMP (QEMU) on {@code socket}; a destination when {@code incomingPort} is set. */
    List<String> command(Engine e, Path socket, Integer incomingPort, Path trace) {
        List<String> c = new ArrayList<>(switch (e) {
            case VISOR -> List.of(visor.toString(), "run", "--cpus", "1", "--memory", memoryMiB + "M", "--append", append,
                    "--net", "none", "--no-rng", "--control", socket.toString());
            // the serial on stdio without -nographic's mux: through the mux (mon:stdio) an incoming QEMU 7.2 VM's
            // console stops taking input after the first line (seen here); -qmp is the monitor
            case QEMU -> List.of(qemu, "-M", "virt", "-m", Integer.toString(memoryMiB), "-smp", "1",
                    "-display", "none", "-serial", "stdio", "-monitor", "none",
                    "-bios", image.firmware().toString(), "-kernel", image.kernel().toString(),
                    "-initrd", image.initrd().toString(), "-append", append, "-no-reboot", "-nic", "none",
                    "-qmp", "unix:" + socket + ",server=on,wait=off");
        });
        if (e == Engine.QEMU && trace != null) {
            // when the vCPUs stop and start (and when the migration completes), with the wall clock's microseconds:
            // the guest's pause measured the way Visor's is, which QEMU's own downtime figure does not give
            c.addAll(List.of("-trace", "vm_state_notify", "-trace", "migrate_set_state", "-msg", "timestamp=on", "-D", trace.toString()));
        }
        if (incomingPort != null) {
            c.add(e == Engine.VISOR ? "--incoming" : "-incoming");
            c.add("tcp:127.0.0.1:" + incomingPort);
        }
        return c;
    }

    /** One engine's round: boot, (Visor: snapshot), idle migration, busy migration, (Visor: restore). */
    Run measure(Engine engine, int round) throws InterruptedException {
        Run run = new Run(engine, round);
        out.printf("round %d, %s:%n", round, engine.title);
        out.flush();
        List<Vm> vms = new ArrayList<>();
        Path snapshot = work.resolve("snap-" + engine.name().toLowerCase(Locale.ROOT) + "-" + round);
        try {
            // ---- idle: a booted guest at its prompt, source -> destination 1
            Vm src = boot(engine, "src", run, vms);
            if (engine == Engine.VISOR) {
                String a = src.monitor.command("snapshot " + snapshot);
                Matcher m = Pattern.compile("pause_ms=(\\d+)").matcher(a);
                if (a.startsWith("ok") && m.find()) {
                    run.value[Figure.SNAPSHOT_PAUSE.ordinal()] = Double.parseDouble(m.group(1));
                    out.println("    snapshot: " + a);
                } else {
                    run.warnings.add("snapshot failed: " + a);
                }
            }
            Vm d1 = start(engine, "dst1", freePort(), run, vms);
            startTicker(src);
            Thread.sleep(1500); // the ticker settles; the guest is otherwise idle
            if (migrateAndCheck(run, src, d1, "idle", Figure.IDLE_DOWNTIME, Figure.IDLE_GAP, Figure.IDLE_TOTAL,
                    Figure.IDLE_ROUNDS, Figure.IDLE_MB, null)) {
                powerOff(run, d1, "destination 1");
            }
            stop(d1);

            // ---- busy: a fresh boot writing memory with dd, source 2 -> destination 2
            // (a fresh source rather than destination 1, so a destination that does not come back does not stop the run)
            Vm src2 = boot(engine, "src2", run, vms);
            Vm d2 = start(engine, "dst2", freePort(), run, vms);
            startTicker(src2);
            // the counter of MiB written lives on a small tmpfs (the guest's root is the initramfs)
            sh(src2, "mkdir -p /t && mount -t tmpfs -o size=1m none /t && echo 0 > /t/n");
            sh(src2, "(n=0; while :; do dd if=/dev/zero of=/dev/null bs=" + CHUNK_MIB + "M count=" + busyMiB / CHUNK_MIB
                    + " 2>/dev/null; n=$((n+" + busyMiB + ")); echo $n > /t/n; done) >/dev/null 2>&1 &");
            sh(src2, "until [ \"$(cat /t/n)\" -ge " + busyMiB + " ]; do sleep 0.2; done");
            double before = writeRate(src2, 4);
            run.value[Figure.BUSY_RATE.ordinal()] = before;
            out.printf(Locale.ROOT, "    busy workload: the guest writes %.1f MB/s (counted over 4 s of guest time)%n", before);
            if (migrateAndCheck(run, src2, d2, "busy", Figure.BUSY_DOWNTIME, Figure.BUSY_GAP, Figure.BUSY_TOTAL,
                    Figure.BUSY_ROUNDS, Figure.BUSY_MB, Figure.BUSY_THROTTLE)) {
                double after = writeRate(d2, 2);
                if (after > 0) {
                    out.printf(Locale.ROOT, "    the workload goes on at destination 2: %.1f MB/s%n", after);
                } else {
                    run.warnings.add("the workload's counter did not move at destination 2");
                }
                powerOff(run, d2, "destination 2");
            }
            stop(d2);

            if (engine == Engine.VISOR && !Double.isNaN(run.value[Figure.SNAPSHOT_PAUSE.ordinal()])) restore(run, snapshot, vms);
        } catch (ChildConsole.ConsoleTimeout | IOException e) {
            run.error = e.getMessage() != null ? e.getMessage() : e.toString();
        } finally {
            for (Vm vm : vms) stop(vm);
            deleteTree(snapshot);
            try (Stream<Path> s = Files.list(work)) {
                s.filter(p -> p.getFileName().toString().startsWith(snapshot.getFileName() + "-clone")).forEach(MigrationBenchmark::deleteTree);
            } catch (IOException ignored) {
                // nothing to clean
            }
        }
        for (String w : run.warnings) out.println("    warning: " + w);
        if (run.error != null) out.println("    FAILED: " + run.error.replace("\n", "\n      | "));
        if (run.rebuilt) out.println("    note: the launcher rebuilt Visor during this run (the start of a VM waited for the build)");
        out.flush();
        return run;
    }

    /**
     * Migrates {@code from} to {@code to} and checks the result: the ticks run on at the destination
     * without a gap, its shell answers, the source exits 0. A failed migration is an IOException; a
     * destination that does not answer is a warning, and false.
     */
    private boolean migrateAndCheck(Run run, Vm from, Vm to, String what, Figure downtime, Figure gap, Figure total,
                                      Figure roundsFig, Figure mb, Figure throttle)
            throws IOException, InterruptedException {
        int port = to.port;
        Migration m;
        try {
            m = from.engine == Engine.VISOR ? migrateVisor(from, port) : migrateQemu(from, port);
        } catch (IOException e) {
            throw new IOException(what + " migration " + from.name + " -> " + to.name + ": " + e.getMessage(), e);
        }
        out.printf(Locale.ROOT, "    %s migration %s -> %s: %s%n", what, from.name, to.name, m.line());
        run.value[downtime.ordinal()] = m.downtimeMs();
        boolean idle = downtime == Figure.IDLE_DOWNTIME;
        run.value[(idle ? Figure.IDLE_LAST_BYTE : Figure.BUSY_LAST_BYTE).ordinal()] = m.lastByteMs();
        run.value[total.ordinal()] = m.totalMs();
        run.value[roundsFig.ordinal()] = m.rounds();
        run.value[mb.ordinal()] = m.sentMb();
        if (throttle != null) run.value[throttle.ordinal()] = m.throttle();

        // the destination's shell answers
        long t0 = System.nanoTime();
        boolean answered;
        try {
            answer(to, answerTimeout);
            answered = true;
            run.answers.add(String.format(Locale.ROOT, "%.2f s", seconds(System.nanoTime() - t0)));
        } catch (ChildConsole.ConsoleTimeout e) {
            answered = false;
            run.answers.add("none");
            run.warnings.add(what + ": the destination's shell did not answer within " + answerTimeout.toSeconds()
                    + " s; its console after the migration: " + oneLine(to.console.tail()));
        }

        // the source: Visor's exits by itself (status 0); QEMU's stays paused until told to quit
        if (from.engine == Engine.QEMU) {
            try {
                from.monitor.qmp("{\"execute\": \"quit\"}");
            } catch (IOException e) {
                // QEMU may close the socket before it answers
            }
        }
        if (from.process.waitFor(30, TimeUnit.SECONDS)) {
            run.sourceExits.add(Integer.toString(from.process.exitValue()));
            if (from.process.exitValue() != 0) run.warnings.add(what + ": the source exited with status " + from.process.exitValue());
        } else {
            run.sourceExits.add("running");
            run.warnings.add(what + ": the source did not exit within 30 s of the migration");
        }

        // the console gap: last tick from the source to the first from the destination (which may come
        // after the shell's answer: the ticker waits on the guest's timer, the shell on its input)
        long waitUntil = System.nanoTime() + TICK_WAIT.toNanos();
        while (to.console.arrivalsOf(TICK).isEmpty() && System.nanoTime() < waitUntil) Thread.sleep(20);
        List<ChildConsole.Arrival> firstTicks = to.console.arrivalsOf(TICK);
        if (!firstTicks.isEmpty()) { // three seconds of ticks: how fast the destination's guest gets going
            long sleepNanos = firstTicks.getFirst().nanos() + 3_000_000_000L - System.nanoTime();
            if (sleepNanos > 0) Thread.sleep(sleepNanos / 1_000_000);
        }
        List<ChildConsole.Arrival> before = from.console.arrivalsOf(TICK), after = to.console.arrivalsOf(TICK);
        if (before.isEmpty() || after.isEmpty()) {
            run.warnings.add(what + ": no ticks seen on the " + (before.isEmpty() ? "source" : "destination"));
        } else {
            ChildConsole.Arrival last = before.getLast(), first = after.getFirst();
            long a = tickNumber(last.text()), b = tickNumber(first.text());
            double gapMs = (first.nanos() - last.nanos()) / 1e6;
            run.value[gap.ordinal()] = gapMs;
            run.ticks.add(a + "->" + b);
            long second = 1_000_000_000L;
            long sourceLast = before.stream().filter(x -> x.nanos() > last.nanos() - second).count();
            long[] dest = new long[3];
            for (ChildConsole.Arrival x : after) {
                int i = (int) ((x.nanos() - first.nanos()) / second);
                if (i < dest.length) dest[i]++;
            }
            out.printf(Locale.ROOT, "    console: last tick from the source @T%d, first from the destination @T%d, %.1f ms later%n", a, b, gapMs);
            out.printf(Locale.ROOT, "      (the last tick came %.0f ms before the migration ended on the host, the first %.0f ms after;"
                            + " ticks per second: source's last %d, destination's first three %d, %d, %d)%n",
                    (m.endNanos() - last.nanos()) / 1e6, (first.nanos() - m.endNanos()) / 1e6, sourceLast, dest[0], dest[1], dest[2]);
            run.tickRates.add(sourceLast + ">" + dest[0] + "," + dest[1] + "," + dest[2]);
            if (b != a + 1) run.warnings.add(what + ": the ticks do not run on: @T" + a + " then @T" + b);
        }

        // the guest's pause, alike for both: the wall-clock instant the source's vCPUs stopped to the one the destination's went on
        try {
            double[] paused = from.engine == Engine.VISOR ? visorPause(from, to) : qemuPause(from, to);
            run.value[(idle ? Figure.IDLE_PAUSED : Figure.BUSY_PAUSED).ordinal()] = paused[0];
            if (!Double.isNaN(paused[1])) run.value[(idle ? Figure.IDLE_LAST_BYTE : Figure.BUSY_LAST_BYTE).ordinal()] = paused[1];
            out.printf(Locale.ROOT, "    guest paused: %.2f ms from the source's stop to the destination's resume%s%n", paused[0],
                    Double.isNaN(paused[1]) ? "" : String.format(Locale.ROOT, " (QEMU's trace: stop to completed %.2f ms)", paused[1]));
        } catch (IOException e) {
            run.warnings.add(what + ": the guest's pause could not be timed: " + e.getMessage());
        }
        return answered;
    }

    /** Visor: the source's stopped_at_us and the destination's resumed_at_us log fields; {pause ms, NaN}. */
    private static double[] visorPause(Vm from, Vm to) throws IOException, InterruptedException {
        long stopped = Long.parseLong(from.waitForStderr(VISOR_STOPPED, Duration.ofSeconds(5)).group(1));
        long resumed = Long.parseLong(to.waitForStderr(VISOR_RESUMED, Duration.ofSeconds(5)).group(1));
        return new double[] {(resumed - stopped) / 1e3, Double.NaN};
    }

    /**
     * QEMU: from the trace logs, the source's last stop (vm_state_notify running 0, once its vCPUs are
     * paused) to the destination's first start (running 1, just before its vCPUs go on), and the
     * source's stop to its migration's "completed" state (its own downtime, to the microsecond).
     * Returns {pause ms, stop-to-completed ms}.
     */
    private static double[] qemuPause(Vm from, Vm to) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (true) { // the destination's log reaches the file when QEMU flushes it
            long stopped = -1, completed = -1, resumed = -1;
            for (String line : Files.readAllLines(from.trace)) {
                Matcher m = QEMU_TRACE.matcher(line);
                if (!m.find()) continue;
                long us = traceMicros(m);
                // the stop for the switch-over: the last one before the migration completed (a quit may stop it again later)
                if (m.group(3).equals("vm_state_notify running 0") && completed < 0) stopped = us;
                else if (m.group(3).equals("migrate_set_state new state completed")) completed = us;
            }
            if (stopped >= 0 && Files.exists(to.trace)) {
                for (String line : Files.readAllLines(to.trace)) {
                    Matcher m = QEMU_TRACE.matcher(line);
                    if (m.find() && m.group(3).equals("vm_state_notify running 1")) {
                        resumed = traceMicros(m);
                        break;
                    }
                }
            }
            if (stopped >= 0 && resumed >= 0) return new double[] {(resumed - stopped) / 1e3, completed >= 0 ? (completed - stopped) / 1e3 : Double.NaN};
            if (System.nanoTime() > deadline) {
                throw new IOException("no " + (stopped < 0 ? "stop in " + from.trace : "start in " + to.trace) + " (QEMU's vm_state_notify trace)");
            }
            Thread.sleep(100);
        }
    }

    /** A QEMU_TRACE match's timestamp in epoch microseconds. */
    private static long traceMicros(Matcher m) {
        return Long.parseLong(m.group(1)) * 1_000_000L + Long.parseLong(m.group(2));
    }

    private static long tickNumber(String tick) {
        Matcher m = TICK.matcher(tick);
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    /** Visor: {@code migrate tcp:127.0.0.1:PORT} on the source's control socket (what {@code visor control SOCK migrate} sends). */
    private Migration migrateVisor(Vm from, int port) throws IOException {
        long t0 = System.nanoTime();
        String a = from.monitor.command("migrate tcp:127.0.0.1:" + port);
        double wall = (System.nanoTime() - t0) / 1e6;
        Matcher m = VISOR_RESULT.matcher(a);
        if (!a.startsWith("ok") || !m.find()) throw new IOException(a);
        Matcher lastByte = VISOR_LAST_BYTE.matcher(a);
        return new Migration(Double.parseDouble(m.group(1)), Double.parseDouble(m.group(2)),
                lastByte.find() ? Double.parseDouble(lastByte.group(1)) : Double.NaN, Integer.parseInt(m.group(3)),
                Double.parseDouble(m.group(4)), Double.parseDouble(m.group(5)), wall, System.nanoTime(), a.substring(3) + String.format(Locale.ROOT, " (host wall %.0f ms)", wall));
    }

    /** QEMU: QMP {@code migrate}, then {@code query-migrate} every 10 ms until it completes (or fails). */
    private Migration migrateQemu(Vm from, int port) throws IOException, InterruptedException {
        from.monitor.qmp("{\"execute\": \"migrate-set-parameters\", \"arguments\": {\"max-bandwidth\": " + QEMU_MAX_BANDWIDTH + "}}");
        long t0 = System.nanoTime();
        from.monitor.qmp("{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"tcp:127.0.0.1:" + port + "\"}}");
        long deadline = t0 + migrateTimeout.toNanos();
        String q;
        double maxThrottle = 0;
        while (true) {
            q = from.monitor.qmp("{\"execute\": \"query-migrate\"}");
            maxThrottle = Math.max(maxThrottle, MonitorClient.jsonLong(q, "cpu-throttle-percentage"));
            String status = MonitorClient.jsonString(q, "status");
            if ("completed".equals(status)) break;
            if ("failed".equals(status) || "cancelled".equals(status)) throw new IOException("QEMU's migration " + status + ": " + q);
            if (System.nanoTime() > deadline) {
                from.monitor.qmp("{\"execute\": \"migrate_cancel\"}");
                throw new IOException("did not complete within " + migrateTimeout.toSeconds() + " s (cancelled); last query-migrate: " + q);
            }
            Thread.sleep(10);
        }
        long end = System.nanoTime();
        double wall = (end - t0) / 1e6;
        long total = MonitorClient.jsonLong(q, "total-time"), downtime = MonitorClient.jsonLong(q, "downtime");
        long syncs = MonitorClient.jsonLong(q, "dirty-sync-count"), bytes = MonitorClient.jsonLong(q, "transferred");
        String line = String.format(Locale.ROOT, "total_ms=%d downtime_ms=%d setup_ms=%d dirty_syncs=%d sent_mb=%.1f"
                        + " (normal %d pages, zero %d pages) mbps=%s throttle=%.0f%% (host wall %.0f ms)",
                total, downtime, MonitorClient.jsonLong(q, "setup-time"), syncs, bytes / 1e6,
                MonitorClient.jsonLong(q, "normal"), MonitorClient.jsonLong(q, "duplicate"), jsonNumber(q, "mbps"), maxThrottle, wall);
        return new Migration(total, downtime, downtime, (int) syncs, bytes / 1e6, maxThrottle, wall, end, line); // QEMU's downtime is to its last byte
    }

    private static String jsonNumber(String json, String key) {
        Matcher m = Pattern.compile("\"" + key + "\":\\s*([0-9.eE+-]+)").matcher(json);
        return m.find() ? m.group(1) : "?";
    }

    /** Visor only: {@code visor run --restore DIR}; the restore time it prints and the time until the guest answers. */
    private void restore(Run run, Path snapshot, List<Vm> vms) throws IOException, InterruptedException, ChildConsole.ConsoleTimeout {
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(visor.toString(), "run", "--restore", snapshot.toString()).start();
        live.add(p);
        Vm vm = new Vm(Engine.VISOR, "restored", p, null, null, null, run);
        vms.add(vm);
        int n = ++sentinel;
        vm.console.send("echo A$((40+2))-" + n + "=");   // typed once the VM runs: its shell is at the prompt
        vm.console.waitFor("A42-" + n + "=", commandTimeout);
        double answerMs = (System.nanoTime() - t0) / 1e6;
        Matcher m = vm.waitForStderr(RESTORED, Duration.ofSeconds(10));
        run.value[Figure.RESTORE.ordinal()] = Double.parseDouble(m.group(1));
        run.value[Figure.RESTORE_ANSWER.ordinal()] = answerMs;
        out.printf(Locale.ROOT, "    restore: \"%s\"; from the process's start to the guest's answer %.0f ms%n", m.group(), answerMs);
        vm.console.send("poweroff -f");
        if (!p.waitFor(60, TimeUnit.SECONDS)) run.warnings.add("the restored VM did not exit within 60 s of poweroff -f");
        else if (p.exitValue() != 0) run.warnings.add("the restored VM exited with status " + p.exitValue());
    }

    // ---- processes -------------------------------------------------------------------------------

    /** Starts a source VM and waits for its shell; connects to its control (Visor) or QMP (QEMU) socket. */
    private Vm boot(Engine engine, String name, Run run, List<Vm> vms)
            throws IOException, InterruptedException, ChildConsole.ConsoleTimeout {
        long t0 = System.nanoTime();
        Vm vm = start(engine, name, null, run, vms);
        vm.console.waitFor(MARKER, bootTimeout);
        vm.console.waitFor(PROMPT, bootTimeout);
        out.printf(Locale.ROOT, "    %s booted to the shell in %.1f s%n", vm.name, seconds(System.nanoTime() - t0));
        vm.monitor = connectMonitor(vm);
        return vm;
    }

    /** {@code poweroff -f} in the guest; the exit status is noted. */
    private void powerOff(Run run, Vm vm, String what) throws IOException, InterruptedException {
        vm.console.skipToEnd();
        vm.console.send("poweroff -f");
        if (vm.process.waitFor(60, TimeUnit.SECONDS)) {
            run.finalExits.add(Integer.toString(vm.process.exitValue()));
            if (vm.process.exitValue() != 0) run.warnings.add(what + " exited with status " + vm.process.exitValue() + " after poweroff -f");
        } else {
            run.finalExits.add("running");
            run.warnings.add(what + " did not exit within 60 s of poweroff -f");
        }
    }


    /** Starts a VMM process; a destination ({@code incomingPort} set) is returned once it listens. */
    private Vm start(Engine engine, String name, Integer incomingPort, Run run, List<Vm> vms) throws IOException, InterruptedException {
        Path socket = work.resolve(engine.name().toLowerCase(Locale.ROOT) + "-" + name + ".sock");
        Files.deleteIfExists(socket);
        Path trace = engine == Engine.QEMU ? work.resolve("qemu-" + name + ".trace") : null;
        if (trace != null) Files.deleteIfExists(trace);
        Process p = new ProcessBuilder(command(engine, socket, incomingPort, trace)).start();
        live.add(p);
        Vm vm = new Vm(engine, engine.title + "-" + name, p, socket, incomingPort, trace, run);
        vms.add(vm);
        if (incomingPort != null) {
            if (engine == Engine.VISOR) {
                vm.waitForStderr(Pattern.compile("waiting for a migration"), bootTimeout);
            } else {
                vm.monitor = connectMonitor(vm);
            }
        }
        return vm;
    }

    private MonitorClient connectMonitor(Vm vm) throws IOException, InterruptedException {
        MonitorClient c = MonitorClient.connect(vm.socket, Duration.ofSeconds(30));
        if (vm.engine == Engine.QEMU) {
            c.qmpHandshake();
            if ("?".equals(qemuDefaults)) {
                String p = c.qmp("{\"execute\": \"query-migrate-parameters\"}");
                qemuDefaults = "max-bandwidth " + MonitorClient.jsonLong(p, "max-bandwidth") + " B/s, downtime-limit "
                        + MonitorClient.jsonLong(p, "downtime-limit") + " ms";
                out.println("    QEMU's migration defaults: " + qemuDefaults + " (max-bandwidth is raised to " + QEMU_MAX_BANDWIDTH + " B/s)");
            }
        }
        return c;
    }

    private void stop(Vm vm) throws InterruptedException {
        if (vm.monitor != null) vm.monitor.close();
        Process p = vm.process;
        if (p.isAlive()) {
            p.destroy();
            if (!p.waitFor(10, TimeUnit.SECONDS)) p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        live.remove(p);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private String tickSeconds() {
        return String.format(Locale.ROOT, "%.3f", tickMs / 1000.0);
    }

    // ---- the guest's shell -----------------------------------------------------------------------

    /**
     * Types {@code line}, then a marker command whose output differs from its echo, and returns the
     * output before the marker. Robust to the ticker's lines landing in the middle of the echo.
     */
    private String sh(Vm vm, String line) throws IOException, InterruptedException, ChildConsole.ConsoleTimeout {
        int n = ++sentinel;
        vm.console.skipToEnd();
        vm.console.send(line);
        vm.console.send("echo S$((40+2))-" + n + "=");
        return vm.console.waitFor("S42-" + n + "=", commandTimeout);
    }

    /** A background loop in the guest that prints @T1, @T2, ... every {@link #tickMs} ms. */
    private void startTicker(Vm vm) throws IOException, InterruptedException, ChildConsole.ConsoleTimeout {
        sh(vm, "(i=0; while :; do i=$((i+1)); echo \"@T$i\"; sleep " + tickSeconds() + "; done) &");
    }

    /** Types a command whose answer proves the shell runs, and waits for the answer. */
    private void answer(Vm vm, Duration timeout) throws IOException, InterruptedException, ChildConsole.ConsoleTimeout {
        int n = ++sentinel;
        vm.console.skipToEnd();
        vm.console.send("echo A$((40+2))-" + n + "=");
        vm.console.waitFor("A42-" + n + "=", timeout);
    }

    /** MB/s the busy workload writes, from its MiB counter over {@code seconds} of guest time; NaN if unread. */
    private double writeRate(Vm vm, int seconds) throws IOException, InterruptedException, ChildConsole.ConsoleTimeout {
        String o = sh(vm, "a=$(cat /t/n); sleep " + seconds + "; b=$(cat /t/n); echo \"R $a $b R\"");
        Matcher m = COUNTS.matcher(o);
        if (!m.find()) return Double.NaN;
        long a = Long.parseLong(m.group(1)), b = Long.parseLong(m.group(2));
        return (b - a) * 1048576.0 / seconds / 1e6;
    }

    // ---- output ----------------------------------------------------------------------------------

    private void printTable() {
        out.println();
        out.printf(Locale.ROOT, "Medians of %d round(s)%s (MB = 10^6 bytes; QEMU max-bandwidth raised to 10 GiB/s, defaults otherwise):%n",
                rounds, rounds > 1 ? "" : " (one round: no spread)");
        String fmt = "%-40s %10s %10s %11s   %-16s %s%n";
        out.printf(Locale.ROOT, fmt, "figure", "Visor", "QEMU", "Visor/QEMU", "target", "");
        out.printf(Locale.ROOT, fmt, "-".repeat(40), "-".repeat(10), "-".repeat(10), "-".repeat(11), "-".repeat(16), "");
        for (Figure f : Figure.values()) {
            double v = median(Engine.VISOR, f), q = median(Engine.QEMU, f);
            double ratio = v / q;
            String verdict = switch (f.target) {
                case NONE -> "";
                case VISOR_BELOW -> Double.isNaN(v) ? "n/a" : v < f.limit ? "ok" : "MISSED";
                case BELOW_QEMU -> Double.isNaN(v) || Double.isNaN(q) ? "n/a" : v < q ? "ok"
                        : Double.isInfinite(ratio) ? "MISSED" : String.format(Locale.ROOT, "MISSED (%.1fx QEMU's)", ratio);
            };
            out.printf(Locale.ROOT, fmt, f.label, num(v), num(q),
                    Double.isNaN(ratio) || Double.isInfinite(ratio) ? "-" : String.format(Locale.ROOT, "%.2fx", ratio), f.targetText, verdict);
        }
        out.printf(Locale.ROOT, fmt, "source exit status (idle, busy)", joined(Engine.VISOR, r -> r.sourceExits),
                joined(Engine.QEMU, r -> r.sourceExits), "", "0", "");
        out.printf(Locale.ROOT, fmt, "destination poweroff -f exit status", joined(Engine.VISOR, r -> r.finalExits),
                joined(Engine.QEMU, r -> r.finalExits), "", "0", "");
        out.printf(Locale.ROOT, fmt, "destination answered after (idle, busy)", joined(Engine.VISOR, r -> r.answers),
                joined(Engine.QEMU, r -> r.answers), "", "", "");
        out.printf(Locale.ROOT, fmt, "ticks/s: src last > dst 1st,2nd,3rd s", joined(Engine.VISOR, r -> r.tickRates),
                joined(Engine.QEMU, r -> r.tickRates), "", "", "");
        out.printf(Locale.ROOT, fmt, "ticks source->destination (idle, busy)", joined(Engine.VISOR, r -> r.ticks),
                joined(Engine.QEMU, r -> r.ticks), "", "n -> n+1", "");
        out.println("(downtime, VMM's own figure: Visor from the source's pause until the guest runs at the destination (the source's");
        out.println(" pause-to-READY on its clock + the destination's READY-to-resumed on its own; its result line's confirmed_ms adds RESUMED's trip back);");
        out.println(" QEMU 7.2 from the source's stop until it has sent the last byte (no return path), the destination's load left out;");
        out.println(" pause to last byte sent: that same measure for both, Visor's from its source's own clock, QEMU's from its trace (to the microsecond);");
        out.println(" guest paused: the wall-clock instant the source's vCPUs stopped to the one the destination's went on, both VMMs alike:");
        out.println(" Visor's logged stopped_at_us / resumed_at_us, QEMU's trace of vm_state_notify (-trace ... -msg timestamp=on).");
        out.println(" console gap: last tick from the source to first tick from the destination as the host read them, both alike,");
        out.println(" within one ticker period (" + tickMs + " ms) plus console flushing. Rounds: Visor's pre-copy rounds, QEMU's dirty-bitmap syncs.");
        out.println(" QEMU's defaults here: " + qemuDefaults + ".)");
        long failed = runs.stream().filter(r -> r.error != null).count();
        if (failed > 0) out.println(failed + " run(s) failed: their missing figures are left out (see above)");
        out.flush();
    }

    private String joined(Engine e, java.util.function.Function<Run, List<String>> f) {
        List<String> s = runs.stream().filter(r -> r.engine == e).map(r -> String.join(", ", f.apply(r))).toList();
        String j = String.join(" / ", s);
        return j.isEmpty() ? "-" : j;
    }

    /** The median of a figure over the runs of {@code engine} that have it; NaN if none. */
    double median(Engine engine, Figure f) {
        double[] v = runs.stream().filter(r -> r.engine == engine).mapToDouble(r -> r.value[f.ordinal()])
                .filter(x -> !Double.isNaN(x)).sorted().toArray();
        return BenchSupport.median(v);
    }

    private static String oneLine(String s) {
        String t = s.strip().replace("\n", " | ");
        return t.length() <= 300 ? t : "..." + t.substring(t.length() - 300);
    }

    private static void deleteTree(Path p) {
        if (p == null || !Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            s.sorted(Comparator.reverseOrder()).forEach(x -> {
                try {
                    Files.deleteIfExists(x);
                } catch (IOException e) {
                    System.err.println("migrate-vs-qemu: could not delete " + x + ": " + e.getMessage());
                }
            });
        } catch (IOException e) {
            System.err.println("migrate-vs-qemu: could not delete " + p + ": " + e.getMessage());
        }
    }
}
