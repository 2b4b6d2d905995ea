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
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.visor.bench.BenchSupport.firstLine;
import static dev.visor.bench.BenchSupport.loadAverage;
import static dev.visor.bench.BenchSupport.num;
import static dev.visor.bench.BenchSupport.onPath;
import static dev.visor.bench.BenchSupport.positive;
import static dev.visor.bench.BenchSupport.seconds;

/**
 * Measures Visor's virtio devices against QEMU's: the same guest (the default image's kernel,
 * initramfs and OpenSBI fw_jump.bin, one vCPU, 512 MiB) with one virtio-blk disk (a fresh, sparse
 * 512 MiB raw image in the same host directory for both) and one virtio-net card on user-mode NAT,
 * booted in Visor ({@code ./visor run}) and in QEMU ({@code qemu-system-riscv64 -M virt}, virtio-mmio,
 * {@code -netdev user}), one VM at a time, each as a child process with its console on stdin/stdout.
 * Per boot it takes, in the guest's busybox shell:
 * <ul>
 *   <li>sequential disk write: {@code dd if=/dev/zero of=/dev/vda bs=1M oflag=direct} (target: Visor's
 *       throughput at least QEMU's);</li>
 *   <li>sequential disk read: {@code dd if=/dev/vda of=/dev/null bs=1M iflag=direct}, {@value #READ_PASSES}
 *       times over the written range (same target), right after the write: a JIT's warm-up is in it;</li>
 *   <li>the same read again after {@code --warm-passes} untimed passes (default {@value #WARM_PASSES}):
 *       how far each engine gets once its JIT has compiled the guest's I/O path (for information);</li>
 *   <li>TCP from the guest to a server of this benchmark on the host's 127.0.0.1, through the NAT
 *       (the guest dials 10.0.2.2): {@code dd if=/dev/zero bs=64k | nc} (target: Visor at least half of QEMU),
 *       with the guest's transmitted frames per second;</li>
 *   <li>for reference, the same TCP send over the guest's loopback (no NIC, no NAT): how fast the
 *       guest's own TCP stack runs on each engine.</li>
 * </ul>
 * Each boot ends with {@code poweroff -f}; the disk images are deleted. Run it through
 * {@code bench/devices-vs-qemu}, which builds what it needs first.
 *
 * <p>How the figures are timed. Busybox's dd prints no timing line here, so the disk figures take
 * the guest's own clock from busybox {@code time} (10 ms resolution) around dd; the host's
 * prompt-to-prompt time is printed beside it as a check. The NAT figure is timed on the host by
 * {@link TcpSink} from the first byte to the last. During each figure the benchmark also samples
 * the VMM's threads' CPU time (/proc/PID/task), which shows where the host's time went.
 */
public final class DeviceBenchmark {
    static final String MARKER = InitramfsBuilder.READY_MARKER;
    static final String PROMPT = "~ # ";
    static final String GUEST_IP = "10.0.2.15", HOST_FROM_GUEST = "10.0.2.2";
    static final int DISK_IMAGE_MIB = 512;
    static final int LOOPBACK_PORT = 5001;
    /** The read figure reads the written range this many times in a row (one timing). */
    static final int READ_PASSES = 4;
    /**
     * Untimed read passes before the warm read figure. Visor's read passes reach their steady speed after
     * about 40 (10 GiB, 20 s): the guest's per-request code runs 256 times a pass, so it reaches the
     * translation threshold only after eight passes and C2 some passes later; QEMU's are steady at once.
     */
    static final int WARM_PASSES = 40;
    /** Characters of a typed line to wait for in its echo: ash wraps the echo of a long line at 80 columns. */
    static final int ECHO_PREFIX = 40;
    /** busybox time: "real\t0m 4.58s" (or "1h 2m 3s" past an hour). */
    static final Pattern REAL = Pattern.compile("real\\s+(?:(\\d+)h\\s*)?(\\d+)m\\s*([0-9.]+)s");
    static final Pattern FRAMES = Pattern.compile("frames tx (\\d+) rx (\\d+)");

    enum Engine {
        VISOR("Visor"), QEMU("QEMU");
        final String title;
        Engine(String title) { this.title = title; }
    }

    /** A figure in the table; {@code minRatio} is the target for Visor/QEMU throughput (NaN: no target). */
    enum Figure {
        DISK_WRITE("disk: sequential write, %d MiB (MB/s)", 1.0, "Visor >= QEMU"),
        DISK_READ("disk: sequential read, " + READ_PASSES + " x %d MiB (MB/s)", 1.0, "Visor >= QEMU"),
        DISK_READ_WARM("  the same after %d more passes (MB/s)", Double.NaN, "(info)"),
        NAT_TCP("net: TCP guest->host via NAT, %d MiB (MB/s)", 0.5, "Visor >= QEMU/2"),
        NAT_FRAMES("net: guest tx frames/s during it", Double.NaN, "(info)"),
        LOOPBACK_TCP("guest TCP over lo, no NIC, %d MiB (MB/s)", Double.NaN, "(info)"),
        BOOT("boot to \"" + MARKER + "\" (s)", Double.NaN, "(info)");

        final String label;
        final double minRatio;
        final String target;

        Figure(String label, double minRatio, String target) {
            this.label = label;
            this.minRatio = minRatio;
            this.target = target;
        }
    }

    /** The figures of one boot: NaN where a figure could not be taken. */
    static final class Run {
        final Engine engine;
        final int round;
        final double[] value = new double[Figure.values().length];
        Integer exitStatus;
        String error;
        final List<String> warnings = new ArrayList<>();
        final AtomicBoolean rebuilt = new AtomicBoolean();

        Run(Engine engine, int round) {
            this.engine = engine;
            this.round = round;
            Arrays.fill(value, Double.NaN);
        }
    }

    /** A guest command's console output, its host prompt-to-prompt time, and the VMM threads' CPU over it. */
    record Timed(String output, double hostSeconds, String threads) {}

    // ---- options ---------------------------------------------------------------------------------

    int rounds = 1;
    int memoryMiB = 512;
    int diskMiB = 256;
    int warmPasses = WARM_PASSES;
    int netMiB = 32;
    int loopbackMiB = 4;
    String append = VmSpec.DEFAULT_APPEND;
    Path visor;
    String qemu = "qemu-system-riscv64";
    Path dir = Path.of(System.getProperty("java.io.tmpdir"));
    Duration bootTimeout = Duration.ofSeconds(300);
    Duration commandTimeout = Duration.ofSeconds(600);
    boolean showConsole;

    private final PrintStream out = System.out;
    private final PrintStream err = System.err;
    private final Set<Process> live = ConcurrentHashMap.newKeySet();
    private final Set<Path> images = ConcurrentHashMap.newKeySet();
    private GuestImage image;
    private TcpSink sink;
    private long clockTicks;
    private final List<Run> runs = new ArrayList<>();

    static final String USAGE = """
            usage: devices-vs-qemu [options]
              --rounds N            boots of each VMM (default 1); medians are reported
              --disk-mib N          MiB written and read by dd (default 256, at most %d)
              --warm-passes N       untimed read passes before the warm read figure (default %d)
              --net-mib N           MiB sent through the NAT (default 32)
              --loopback-mib N      MiB sent over the guest's loopback for reference (default 4)
              --dir DIR             where the fresh disk images go (default: the system temp directory)
              --append STR          kernel command line for both (default '%s')
              --visor PATH          the visor launcher (default: ./visor of this source tree)
              --qemu PATH           the QEMU binary (default qemu-system-riscv64)
              --boot-timeout S      limit for one boot to the shell (default 300)
              --command-timeout S   limit for one guest command (default 600)
              --show-console        copy the guests' consoles to stderr
            Extra JVM options for Visor (e.g. -Dvisor.stats=true) go in VISOR_JAVA_OPTS.
            """.formatted(DISK_IMAGE_MIB, WARM_PASSES, VmSpec.DEFAULT_APPEND);

    public static void main(String[] args) throws Exception {
        DeviceBenchmark b = new DeviceBenchmark();
        try {
            b.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("devices-vs-qemu: " + e.getMessage());
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
                        case "--disk-mib" -> diskMiB = positive(a, v);
                        case "--warm-passes" -> warmPasses = positive(a, v);
                        case "--net-mib" -> netMiB = positive(a, v);
                        case "--loopback-mib" -> loopbackMiB = positive(a, v);
                        case "--dir" -> dir = Path.of(v);
                        case "--append" -> append = v;
                        case "--visor" -> visor = Path.of(v);
                        case "--qemu" -> qemu = v;
                        case "--boot-timeout" -> bootTimeout = Duration.ofSeconds(positive(a, v));
                        case "--command-timeout" -> commandTimeout = Duration.ofSeconds(positive(a, v));
                        default -> throw new IllegalArgumentException("unknown option " + a);
                    }
                }
            }
        }
        if (diskMiB > DISK_IMAGE_MIB) throw new IllegalArgumentException("--disk-mib is at most " + DISK_IMAGE_MIB + " (the image's size)");
        // both command lines take the image path before a comma-separated option list
        if (dir.toString().contains(",")) throw new IllegalArgumentException("--dir must not contain a comma: " + dir);
        if (visor == null) {
            String root = System.getProperty("visor.root");
            visor = Path.of(root != null ? root : ".").resolve("visor");
        }
    }

    // ---- the run ---------------------------------------------------------------------------------

    int run() throws Exception {
        if (!Files.isExecutable(visor)) {
            err.println("devices-vs-qemu: " + visor + " is not an executable visor launcher (use --visor)");
            return 1;
        }
        String qemuPath = onPath(qemu);
        if (qemuPath == null) {
            err.println("devices-vs-qemu: " + qemu + " not found: apt-get install qemu-system-misc (or --qemu PATH)");
            return 1;
        }
        if (!Files.isDirectory(dir) || !Files.isWritable(dir)) {
            err.println("devices-vs-qemu: " + dir + " is not a writable directory (use --dir)");
            return 1;
        }
        try {
            image = new ImageStore().defaultImage(err);
        } catch (ImageException e) {
            err.println("devices-vs-qemu: the guest image: " + e.getMessage());
            return 1;
        }
        clockTicks = ProcStats.clockTicksPerSecond();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            live.forEach(Process::destroyForcibly);
            images.forEach(DeviceBenchmark::deleteQuietly);
        }));

        try (TcpSink s = new TcpSink()) {
            sink = s;
            Path sample = dir.resolve("visor-bench-disk-N.img");
            out.println("Visor vs QEMU: virtio disk and NAT network, " + rounds + " round(s), 1 vCPU, " + memoryMiB + " MiB");
            out.println("  host:    " + Runtime.getRuntime().availableProcessors() + " CPUs, load average " + loadAverage());
            out.println("  guest:   kernel " + image.kernelVersion() + " (" + image.directory() + ": Image, initrd.gz, fw_jump.bin)");
            out.println("  disks:   a fresh sparse " + DISK_IMAGE_MIB + " MiB raw image per boot in " + dir + " (" + fileSystem(dir) + ")");
            out.println("  sink:    TCP server on 127.0.0.1:" + sink.port() + " (the guest dials " + HOST_FROM_GUEST + ")");
            out.println("  append:  " + append);
            out.println("  visor:   " + String.join(" ", command(Engine.VISOR, sample)));
            out.println("  qemu:    " + String.join(" ", command(Engine.QEMU, sample)) + "   (" + firstLine(qemuPath, "--version") + ")");
            out.flush();

            warmUpLauncher();

            for (int r = 1; r <= rounds; r++) {
                // alternate which goes first, so neither always gets the cooler machine
                Engine[] order = r % 2 == 1 ? new Engine[] {Engine.VISOR, Engine.QEMU} : new Engine[] {Engine.QEMU, Engine.VISOR};
                for (Engine e : order) runs.add(measure(e, r));
            }
        }
        printTable();
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

    /** The VMM's command line with {@code disk} as its virtio disk and one virtio NIC on user-mode NAT. */
    List<String> command(Engine e, Path disk) {
        return switch (e) {
            case VISOR -> List.of(visor.toString(), "run", "--cpus", "1", "--memory", memoryMiB + "M", "--append", append,
                    "--disk", disk + ",format=raw", "--net", "user", "--no-rng");
            case QEMU -> List.of(qemu, "-M", "virt", "-m", Integer.toString(memoryMiB), "-smp", "1", "-nographic",
                    "-bios", image.firmware().toString(), "-kernel", image.kernel().toString(),
                    "-initrd", image.initrd().toString(), "-append", append, "-no-reboot",
                    "-drive", "file=" + disk + ",format=raw,if=none,id=d0", "-device", "virtio-blk-device,drive=d0",
                    "-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n0");
        };
    }

    /** One boot of {@code engine} with a fresh disk: the disk and network figures, then poweroff. */
    Run measure(Engine engine, int round) throws InterruptedException {
        Run run = new Run(engine, round);
        String name = engine.title;
        out.printf("round %d, %s:%n", round, name);
        out.flush();
        Process p = null;
        Path disk = null;
        try {
            disk = Files.createTempFile(dir, "visor-bench-disk-", ".img");
            images.add(disk);
            try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
                f.setLength((long) DISK_IMAGE_MIB << 20);
            }
            long start = System.nanoTime();
            p = new ProcessBuilder(command(engine, disk)).start();
            live.add(p);
            pumpStderr(name, p, run);
            ChildConsole console = new ChildConsole(name, p.getInputStream(), p.getOutputStream(), showConsole ? err : null);

            console.waitFor(MARKER, bootTimeout);
            run.value[Figure.BOOT.ordinal()] = seconds(System.nanoTime() - start);
            console.waitFor(PROMPT, bootTimeout);
            report("boot to \"" + MARKER + "\"", run.value[Figure.BOOT.ordinal()], "s", "");
            // the ISA the guest sees tells e.g. whether its timer needs an SBI call (no sstc) or not
            out.println("    guest " + oneLine(type(console, "grep -m1 '^isa' /proc/cpuinfo", commandTimeout)).replaceAll("\\s+", " "));

            diskFigure(run, console, p.pid(), Figure.DISK_WRITE, 1,
                    "time dd if=/dev/zero of=/dev/vda bs=1M count=" + diskMiB + " oflag=direct");
            // reads are fast enough on QEMU that one pass is a few ticks of busybox time's 10 ms clock
            String readPasses = "time sh -c 'for i in" + passList() + "; do dd if=/dev/vda of=/dev/null bs=1M count=" + diskMiB
                    + " iflag=direct; done'";
            diskFigure(run, console, p.pid(), Figure.DISK_READ, READ_PASSES, readPasses);
            warmUpReads(run, console);
            diskFigure(run, console, p.pid(), Figure.DISK_READ_WARM, READ_PASSES, readPasses);
            if (waitForLease(run, console)) natFigure(run, console, p.pid());
            loopbackFigure(run, console);

            console.skipToEnd();
            console.send("poweroff -f");
            if (p.waitFor(60, TimeUnit.SECONDS)) {
                run.exitStatus = p.exitValue();
                out.printf("    exit status after poweroff -f: %d%n", run.exitStatus);
            } else {
                run.error = "did not exit within 60 s of poweroff -f; console tail:\n" + console.tail();
            }
        } catch (ChildConsole.ConsoleTimeout e) {
            run.error = e.getMessage();
        } catch (IOException e) {
            run.error = e.toString();
        } finally {
            if (p != null) {
                if (p.isAlive()) {
                    p.destroy();
                    if (!p.waitFor(10, TimeUnit.SECONDS)) p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
                live.remove(p);
            }
            if (disk != null) {
                deleteQuietly(disk);
                images.remove(disk);
            }
        }
        for (String w : run.warnings) out.println("    warning: " + w);
        if (run.error != null) out.println("    FAILED: " + run.error.replace("\n", "\n      | "));
        if (run.rebuilt.get()) out.println("    note: the launcher rebuilt Visor during this boot: its boot time includes the build");
        out.flush();
        return run;
    }

    /** {@code passes} dd runs over the whole transfer, timed by the guest's busybox time; MB/s into {@code figure}. */
    private void diskFigure(Run run, ChildConsole console, long pid, Figure figure, int passes, String line)
            throws IOException, InterruptedException, ChildConsole.ConsoleTimeout {
        Timed t = timed(console, pid, line, commandTimeout);
        String full = diskMiB + "+0 records out";
        if (t.output().split(Pattern.quote(full), -1).length - 1 != passes) {
            run.warnings.add(figure.name() + ": dd did not copy " + diskMiB + " blocks " + passes + " time(s): " + oneLine(t.output()));
            return;
        }
        double guestSeconds = guestReal(t.output());
        if (Double.isNaN(guestSeconds) || guestSeconds <= 0) {
            run.warnings.add(figure.name() + ": no 'real' time from busybox time: " + oneLine(t.output()));
            return;
        }
        checkClock(run, figure, guestSeconds, t.hostSeconds());
        run.value[figure.ordinal()] = passes * ((long) diskMiB << 20) / guestSeconds / 1e6;
        report(String.format(Locale.ROOT, "%s", figureLabel(figure)), run.value[figure.ordinal()], "MB/s",
                String.format(Locale.ROOT, "guest %.2f s, host prompt-to-prompt %.2f s", guestSeconds, t.hostSeconds()));
        threads(t);
    }

    /** The untimed read passes before the warm read figure; the guest's time for them is printed. */
    private void warmUpReads(Run run, ChildConsole console) throws IOException, InterruptedException, ChildConsole.ConsoleTimeout {
        String output = type(console, "time sh -c 'i=0; while [ $i -lt " + warmPasses + " ]; do dd if=/dev/vda of=/dev/null bs=1M count="
                + diskMiB + " iflag=direct 2>/dev/null; i=$((i+1)); done'", commandTimeout);
        double guestSeconds = guestReal(output);
        if (Double.isNaN(guestSeconds)) {
            run.warnings.add("the warm-up read passes printed no time: " + oneLine(output));
        } else {
            out.printf(Locale.ROOT, "    %d untimed read passes of %d MiB: %.1f s (%.0f MB/s)%n", warmPasses, diskMiB, guestSeconds,
                    warmPasses * ((long) diskMiB << 20) / guestSeconds / 1e6);
        }
    }

    /** " 1 2 3 4": the loop list of the read passes. */
    private static String passList() {
        StringBuilder b = new StringBuilder();
        for (int i = 1; i <= READ_PASSES; i++) b.append(' ').append(i);
        return b.toString();
    }

    /** Waits (in the guest, at most a minute) until udhcpc has put {@value #GUEST_IP} on eth0. */
    private boolean waitForLease(Run run, ChildConsole console) throws IOException, InterruptedException, ChildConsole.ConsoleTimeout {
        long t0 = System.nanoTime();
        String output = type(console, "i=0; until ip -4 addr show eth0 | grep -q 'inet " + GUEST_IP + "/' || [ $i -ge 600 ];"
                + " do sleep 0.1; i=$((i+1)); done; ip -4 addr show eth0", Duration.ofSeconds(120));
        if (!output.contains("inet " + GUEST_IP + "/")) {
            run.warnings.add("no DHCP lease for " + GUEST_IP + " on eth0 within a minute: " + oneLine(output));
            return false;
        }
        out.printf(Locale.ROOT, "    eth0 has %s (waited %.2f s)%n", GUEST_IP, seconds(System.nanoTime() - t0));
        return true;
    }

    /** dd | nc to the host's sink through the NAT; timed on the host from the first byte to the last. */
    private void natFigure(Run run, ChildConsole console, long pid) throws IOException, InterruptedException, ChildConsole.ConsoleTimeout {
        int blocks = netMiB * 16;   // 64 KiB blocks
        type(console, "s=/sys/class/net/eth0/statistics; a=$(cat $s/tx_packets); b=$(cat $s/rx_packets)", commandTimeout);
        Map<String, Long> irq0 = interrupts(type(console, "cat /proc/interrupts", commandTimeout));
        sink.clear();
        Timed t = timed(console, pid, "time sh -c 'dd if=/dev/zero bs=64k count=" + blocks + " | nc " + HOST_FROM_GUEST
                + " " + sink.port() + "'", commandTimeout);
        Map<String, Long> irq1 = interrupts(type(console, "cat /proc/interrupts", commandTimeout));
        String frames = type(console, "echo \"frames tx $(($(cat $s/tx_packets)-a)) rx $(($(cat $s/rx_packets)-b))\"", commandTimeout);
        TcpSink.Transfer x = sink.next(30);
        long expected = (long) netMiB << 20;
        if (x == null) {
            run.warnings.add("NAT_TCP: no connection reached the sink: " + oneLine(t.output()));
            return;
        }
        if (x.bytes() != expected || x.nonZeroBytes() != 0) {
            run.warnings.add(String.format(Locale.ROOT, "NAT_TCP: the sink got %d bytes (%d not zero), expected %d zeros",
                    x.bytes(), x.nonZeroBytes(), expected));
            return;
        }
        run.value[Figure.NAT_TCP.ordinal()] = x.megabytesPerSecond();
        report(figureLabel(Figure.NAT_TCP), x.megabytesPerSecond(), "MB/s",
                String.format(Locale.ROOT, "first to last byte %.2f s, host prompt-to-prompt %.2f s", x.seconds(), t.hostSeconds()));
        Matcher m = FRAMES.matcher(frames);
        if (m.find()) {
            long tx = Long.parseLong(m.group(1)), rx = Long.parseLong(m.group(2));
            run.value[Figure.NAT_FRAMES.ordinal()] = tx / x.seconds();
            report(figureLabel(Figure.NAT_FRAMES), tx / x.seconds(), "/s",
                    String.format(Locale.ROOT, "%d frames out (%.0f bytes each), %d in", tx, (double) expected / tx, rx));
        }
        threads(t);
        out.println("      guest interrupts over it: " + busiestInterrupts(irq0, irq1));
    }

    /** For reference: the same TCP send over the guest's loopback, timed by the guest's busybox time. */
    private void loopbackFigure(Run run, ChildConsole console) throws IOException, InterruptedException, ChildConsole.ConsoleTimeout {
        int blocks = loopbackMiB * 16;
        // the listener's stdin must not end: busybox nc half-closes at its stdin's end, and the sender quits when it sees that
        type(console, "sleep 9999 | nc -l -p " + LOOPBACK_PORT + " >/dev/null & sleep 1", commandTimeout);
        String output = type(console, "time sh -c 'dd if=/dev/zero bs=64k count=" + blocks + " | nc 127.0.0.1 " + LOOPBACK_PORT
                + "'", commandTimeout);
        double guestSeconds = guestReal(output);
        if (!output.contains(blocks + "+0 records out") || Double.isNaN(guestSeconds) || guestSeconds <= 0) {
            run.warnings.add("LOOPBACK_TCP: no timing: " + oneLine(output));
            return;
        }
        run.value[Figure.LOOPBACK_TCP.ordinal()] = ((long) loopbackMiB << 20) / guestSeconds / 1e6;
        report(figureLabel(Figure.LOOPBACK_TCP), run.value[Figure.LOOPBACK_TCP.ordinal()], "MB/s",
                String.format(Locale.ROOT, "guest %.2f s", guestSeconds));
    }

    // ---- the guest's shell -----------------------------------------------------------------------

    /** Types {@code line}, waits for the next prompt; returns the output (with the tail of a wrapped echo). */
    private String type(ChildConsole console, String line, Duration timeout) throws IOException, InterruptedException, ChildConsole.ConsoleTimeout {
        console.skipToEnd();
        console.send(line);
        console.waitFor(line.substring(0, Math.min(line.length(), ECHO_PREFIX)), timeout);   // the shell's echo
        return console.waitFor(PROMPT, timeout);
    }

    /** {@link #type}, timing it on the host and sampling the VMM's threads' CPU time around it. */
    private Timed timed(ChildConsole console, long pid, String line, Duration timeout)
            throws IOException, InterruptedException, ChildConsole.ConsoleTimeout {
        Map<String, Long> before = ProcStats.threadTicks(pid);
        long t0 = System.nanoTime();
        String output = type(console, line, timeout);
        long t1 = System.nanoTime();
        Map<String, Long> after = ProcStats.threadTicks(pid);
        return new Timed(output, seconds(t1 - t0), busiest(before, after, seconds(t1 - t0)));
    }

    /** "vcpu-0 97%, visor-net-user 20%, ...": the threads that used at least 3% of a core, busiest first. */
    private String busiest(Map<String, Long> before, Map<String, Long> after, double wallSeconds) {
        long total = 0;
        List<Map.Entry<String, Long>> used = new ArrayList<>();
        for (Map.Entry<String, Long> e : after.entrySet()) {
            long d = Math.max(0, e.getValue() - before.getOrDefault(e.getKey(), 0L));
            total += d;
            used.add(Map.entry(e.getKey(), d));
        }
        used.sort(Map.Entry.<String, Long>comparingByValue(Comparator.reverseOrder()));
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "process %.0f%%:", percent(total, wallSeconds)));
        for (Map.Entry<String, Long> e : used) {
            double pc = percent(e.getValue(), wallSeconds);
            if (pc < 3) break;
            s.append(String.format(Locale.ROOT, " %s %.0f%%,", e.getKey(), pc));
        }
        if (s.charAt(s.length() - 1) == ',') s.setLength(s.length() - 1);
        return s.toString();
    }

    private double percent(long ticks, double wallSeconds) {
        return 100.0 * ticks / clockTicks / wallSeconds;
    }

    /** /proc/interrupts as counts (summed over CPUs) by the rest of each line, e.g. "RISC-V INTC 5 Edge riscv-timer". */
    static Map<String, Long> interrupts(String procInterrupts) {
        Map<String, Long> counts = new HashMap<>();
        for (String line : procInterrupts.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length < 3 || !f[0].endsWith(":")) continue;
            long sum = 0;
            int i = 1;
            for (; i < f.length && f[i].matches("\\d+"); i++) sum += Long.parseLong(f[i]);
            if (i == 1) continue;
            counts.put(String.join(" ", Arrays.copyOfRange(f, i, f.length)), sum);
        }
        return counts;
    }

    /** "riscv-timer 2500, virtio1 30000": the interrupt lines that counted at least 100 between two reads. */
    private static String busiestInterrupts(Map<String, Long> before, Map<String, Long> after) {
        List<String> parts = after.entrySet().stream()
                .map(e -> Map.entry(e.getKey(), e.getValue() - before.getOrDefault(e.getKey(), 0L)))
                .filter(e -> e.getValue() >= 100)
                .sorted(Map.Entry.<String, Long>comparingByValue(Comparator.reverseOrder()))
                .map(e -> e.getKey() + " " + e.getValue()).toList();
        return parts.isEmpty() ? "none" : String.join(", ", parts);
    }

    /** Seconds from busybox time's "real" line in {@code output}; NaN if there is none. */
    static double guestReal(String output) {
        Matcher m = REAL.matcher(output);
        if (!m.find()) return Double.NaN;
        double h = m.group(1) == null ? 0 : Long.parseLong(m.group(1));
        return h * 3600 + Long.parseLong(m.group(2)) * 60 + Double.parseDouble(m.group(3));
    }

    /** The guest's clock must not claim more time than passed on the host (less is normal: typing and prompts). */
    private static void checkClock(Run run, Figure figure, double guestSeconds, double hostSeconds) {
        if (guestSeconds > hostSeconds * 1.05 + 0.05) {
            run.warnings.add(String.format(Locale.ROOT, "%s: the guest timed %.2f s but only %.2f s passed on the host: its clock runs fast",
                    figure.name(), guestSeconds, hostSeconds));
        }
    }

    // ---- output ----------------------------------------------------------------------------------

    /** Copies the child's stderr to ours, line by line, marked with its name; notes a launcher rebuild. */
    private void pumpStderr(String name, Process p, Run run) {
        Thread.ofPlatform().daemon().name(name + "-stderr").start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (line.contains("visor: building")) run.rebuilt.set(true);
                    err.println("    [" + name + " stderr] " + line);
                }
            } catch (IOException e) {
                // gone
            }
        });
    }

    private void report(String what, double value, String unit, String detail) {
        out.printf(Locale.ROOT, "    %-46s %9.2f %-5s %s%n", what, value, unit, detail.isEmpty() ? "" : "(" + detail + ")");
        out.flush();
    }

    private void threads(Timed t) {
        out.println("      host CPU over it: " + t.threads());
        out.flush();
    }

    private String figureLabel(Figure f) {
        return switch (f) {
            case DISK_WRITE, DISK_READ -> f.label.formatted(diskMiB);
            case DISK_READ_WARM -> f.label.formatted(warmPasses);
            case NAT_TCP -> f.label.formatted(netMiB);
            case LOOPBACK_TCP -> f.label.formatted(loopbackMiB);
            default -> f.label;
        };
    }

    private void printTable() {
        out.println();
        out.printf(Locale.ROOT, "Medians of %d round(s)%s (MB = 10^6 bytes):%n", rounds, rounds > 1 ? "" : " (one round: no spread)");
        String fmt = "%-46s %10s %10s %11s   %-16s %s%n";
        out.printf(Locale.ROOT, fmt, "figure", "Visor", "QEMU", "Visor/QEMU", "target", "");
        out.printf(Locale.ROOT, fmt, "-".repeat(46), "-".repeat(10), "-".repeat(10), "-".repeat(11), "-".repeat(16), "");
        for (Figure f : Figure.values()) {
            double v = median(Engine.VISOR, f), q = median(Engine.QEMU, f);
            double ratio = v / q;
            String verdict;
            if (Double.isNaN(f.minRatio)) {
                verdict = "";
            } else if (Double.isNaN(ratio)) {
                verdict = "n/a";
            } else if (ratio >= f.minRatio) {
                verdict = "ok";
            } else {
                verdict = String.format(Locale.ROOT, "MISSED (Visor %.1fx slower)", 1 / ratio);
            }
            out.printf(Locale.ROOT, fmt, figureLabel(f), num(v), num(q),
                    Double.isNaN(ratio) ? "-" : String.format(Locale.ROOT, "%.2fx", ratio), f.target, verdict);
        }
        out.printf(Locale.ROOT, fmt, "exit status after poweroff -f", statuses(Engine.VISOR), statuses(Engine.QEMU), "", "0", "");
        out.println("(Visor/QEMU is a throughput ratio for MB/s and frames/s: above 1 means Visor is faster; for boot it is a time ratio.)");
        long failed = runs.stream().filter(r -> r.error != null).count();
        if (failed > 0) out.println(failed + " boot(s) failed: their missing figures are left out (see above)");
        out.flush();
    }

    private String statuses(Engine e) {
        List<String> s = runs.stream().filter(r -> r.engine == e).map(r -> r.exitStatus == null ? "-" : r.exitStatus.toString()).toList();
        return String.join(",", s);
    }

    /** The median of a figure over the boots of {@code engine} that have it; NaN if none. */
    double median(Engine engine, Figure f) {
        double[] v = runs.stream().filter(r -> r.engine == engine).mapToDouble(r -> r.value[f.ordinal()])
                .filter(x -> !Double.isNaN(x)).sorted().toArray();
        return BenchSupport.median(v);
    }

    // ---- small helpers ---------------------------------------------------------------------------

    private static String oneLine(String s) {
        String t = s.strip().replace("\n", " | ");
        return t.length() <= 300 ? t : t.substring(0, 300) + "...";
    }

    private static String fileSystem(Path p) {
        try {
            FileStore fs = Files.getFileStore(p);
            return fs.type() + " on " + fs.name();
        } catch (IOException e) {
            return "file system unknown";
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            System.err.println("devices-vs-qemu: could not delete " + p + ": " + e.getMessage());
        }
    }
}
