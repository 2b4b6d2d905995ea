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
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

import static dev.visor.bench.BenchSupport.firstLine;
import static dev.visor.bench.BenchSupport.loadAverage;
import static dev.visor.bench.BenchSupport.num;
import static dev.visor.bench.BenchSupport.onPath;
import static dev.visor.bench.BenchSupport.positive;
import static dev.visor.bench.BenchSupport.seconds;

/**
 * Boots the same guest (the default image's kernel, initramfs and OpenSBI fw_jump.bin, one vCPU,
 * 512 MiB) in Visor ({@code ./visor run}) and in QEMU ({@code qemu-system-riscv64 -M virt}), each as
 * a child process with its console on stdin/stdout, for a number of rounds, and prints the medians
 * side by side with the project's targets:
 * <ul>
 *   <li>time from process start to the initramfs's "visor: shell ready" line (target: Visor within 3x of QEMU);</li>
 *   <li>three shell commands, each from typing the line to the next prompt (target: within 4x);</li>
 *   <li>Visor only: host CPU used by the VMM process over an idle guest (target: under 5% of a core),
 *       and its resident memory: the guest RAM it touched and everything else (the VMM's overhead).</li>
 * </ul>
 * Each VM ends with {@code poweroff -f}. Only one VM runs at a time. Run it through
 * {@code bench/boot-vs-qemu}, which builds what it needs first.
 */
public final class BootBenchmark {
    static final String MARKER = InitramfsBuilder.READY_MARKER;
    static final String PROMPT = "~ # ";
    static final double BOOT_TARGET = 3.0, COMMAND_TARGET = 4.0, IDLE_TARGET_PERCENT = 5.0;

    /** A guest command and its name in the table. */
    record GuestCommand(String label, String line) {}

    static final List<GuestCommand> COMMANDS = List.of(
            new GuestCommand("shell loop, 100000 iterations", "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done"),
            new GuestCommand("dd 16 MiB | sha256sum", "dd if=/dev/zero bs=1M count=16 | sha256sum"),
            new GuestCommand("dd 64 MiB | gzip -1 | wc -c", "dd if=/dev/zero bs=1M count=64 | gzip -1 | wc -c"));

    enum Engine {
        VISOR("Visor"), QEMU("QEMU");
        final String title;
        Engine(String title) { this.title = title; }
    }

    /** The figures of one boot. NaN (or null) where a figure could not be taken. */
    static final class Run {
        final Engine engine;
        final int round;
        double bootSeconds = Double.NaN;
        final double[] commandSeconds = new double[COMMANDS.size()];
        final String[] outputs = new String[COMMANDS.size()];
        double idleCpuPercent = Double.NaN;
        ProcStats.Memory memory;
        Integer exitStatus;
        String error;
        final AtomicBoolean rebuilt = new AtomicBoolean();

        Run(Engine engine, int round) {
            this.engine = engine;
            this.round = round;
            Arrays.fill(commandSeconds, Double.NaN);
        }
    }

    // ---- options ---------------------------------------------------------------------------------

    int rounds = 3;
    int idleSeconds = 10;
    int memoryMiB = 512;
    String append = VmSpec.DEFAULT_APPEND;
    Path visor;
    String qemu = "qemu-system-riscv64";
    Duration bootTimeout = Duration.ofSeconds(300);
    Duration commandTimeout = Duration.ofSeconds(600);
    boolean showConsole;

    private final PrintStream out = System.out;
    private final PrintStream err = System.err;
    private final Set<Process> live = ConcurrentHashMap.newKeySet();
    private GuestImage image;
    private final List<Run> runs = new ArrayList<>();

    static final String USAGE = """
            usage: boot-vs-qemu [options]
              --rounds N            boots of each VMM (default 3); medians are reported
              --idle-seconds S      how long to measure Visor's CPU use with an idle guest (default 10)
              --append STR          kernel command line for both (default '%s')
              --visor PATH          the visor launcher (default: ./visor of this source tree)
              --qemu PATH           the QEMU binary (default qemu-system-riscv64)
              --boot-timeout S      limit for one boot to the shell (default 300)
              --command-timeout S   limit for one guest command (default 600)
              --show-console        copy the guests' consoles to stderr
            """.formatted(VmSpec.DEFAULT_APPEND);

    public static void main(String[] args) throws Exception {
        BootBenchmark b = new BootBenchmark();
        try {
            b.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("boot-vs-qemu: " + e.getMessage());
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
                        case "--idle-seconds" -> idleSeconds = positive(a, v);
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
        if (visor == null) {
            String root = System.getProperty("visor.root");
            visor = Path.of(root != null ? root : ".").resolve("visor");
        }
    }

    // ---- the run ---------------------------------------------------------------------------------

    int run() throws Exception {
        if (!Files.isExecutable(visor)) {
            err.println("boot-vs-qemu: " + visor + " is not an executable visor launcher (use --visor)");
            return 1;
        }
        String qemuPath = onPath(qemu);
        if (qemuPath == null) {
            err.println("boot-vs-qemu: " + qemu + " not found: apt-get install qemu-system-misc (or --qemu PATH)");
            return 1;
        }
        try {
            image = new ImageStore().defaultImage(err);
        } catch (ImageException e) {
            err.println("boot-vs-qemu: the guest image: " + e.getMessage());
            return 1;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> live.forEach(Process::destroyForcibly)));

        out.println("Visor vs QEMU: boot and guest commands, " + rounds + " round(s), 1 vCPU, " + memoryMiB + " MiB");
        out.println("  host:    " + Runtime.getRuntime().availableProcessors() + " CPUs, load average " + loadAverage()
                + ", clock ticks " + ProcStats.clockTicksPerSecond() + "/s");
        out.println("  guest:   kernel " + image.kernelVersion() + " (" + image.directory() + ": Image, initrd.gz, fw_jump.bin)");
        out.println("  append:  " + append);
        out.println("  visor:   " + String.join(" ", command(Engine.VISOR)));
        out.println("  qemu:    " + String.join(" ", command(Engine.QEMU)) + "   (" + firstLine(qemuPath, "--version") + ")");
        out.flush();

        warmUpLauncher();

        for (int r = 1; r <= rounds; r++) {
            // alternate which goes first, so neither always gets the cooler machine
            Engine[] order = r % 2 == 1 ? new Engine[] {Engine.VISOR, Engine.QEMU} : new Engine[] {Engine.QEMU, Engine.VISOR};
            for (Engine e : order) {
                Run run = measure(e, r);
                runs.add(run);
            }
        }
        checkOutputs();
        printTable();
        boolean failed = runs.stream().anyMatch(x -> x.error != null);
        return failed ? 1 : 0;
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

    List<String> command(Engine e) {
        return switch (e) {
            case VISOR -> List.of(visor.toString(), "run", "--cpus", "1", "--memory", memoryMiB + "M", "--append", append);
            case QEMU -> List.of(qemu, "-M", "virt", "-m", Integer.toString(memoryMiB), "-smp", "1", "-nographic",
                    "-bios", image.firmware().toString(), "-kernel", image.kernel().toString(),
                    "-initrd", image.initrd().toString(), "-append", append, "-no-reboot");
        };
    }

    /** One boot of {@code engine}: to the shell, the commands, (Visor) idle CPU and memory, poweroff. */
    Run measure(Engine engine, int round) throws InterruptedException {
        Run run = new Run(engine, round);
        String name = engine.title;
        out.printf("round %d, %s:%n", round, name);
        out.flush();
        Process p = null;
        try {
            ProcessBuilder pb = new ProcessBuilder(command(engine));
            long start = System.nanoTime();
            p = pb.start();
            live.add(p);
            pumpStderr(name, p, run);
            ChildConsole console = new ChildConsole(name, p.getInputStream(), p.getOutputStream(), showConsole ? err : null);

            console.waitFor(MARKER, bootTimeout);
            run.bootSeconds = seconds(System.nanoTime() - start);
            report("boot to \"" + MARKER + "\"", run.bootSeconds, "s");
            console.waitFor(PROMPT, bootTimeout);

            for (int i = 0; i < COMMANDS.size(); i++) {
                String line = COMMANDS.get(i).line();
                console.skipToEnd();
                long t0 = System.nanoTime();
                console.send(line);
                console.waitFor(line, commandTimeout);       // the shell's echo
                console.waitFor("\n", commandTimeout);
                String output = console.waitFor(PROMPT, commandTimeout);
                run.commandSeconds[i] = seconds(System.nanoTime() - t0);
                run.outputs[i] = output.strip();
                report(COMMANDS.get(i).label(), run.commandSeconds[i], "s");
            }

            long pid = p.pid();
            if (engine == Engine.VISOR) {
                String comm = ProcStats.comm(pid);
                if (!comm.equals("java")) err.println("  warning: the visor child " + pid + " is '" + comm + "', not java");
                Thread.sleep(1000); // let the last command's aftermath settle
                long tick = ProcStats.clockTicksPerSecond();
                long c0 = ProcStats.cpuTicks(pid), w0 = System.nanoTime();
                Thread.sleep(idleSeconds * 1000L);
                long c1 = ProcStats.cpuTicks(pid), w1 = System.nanoTime();
                run.idleCpuPercent = 100.0 * ((c1 - c0) / (double) tick) / seconds(w1 - w0);
                report("idle CPU over " + idleSeconds + " s (% of one core)", run.idleCpuPercent, "%");
            }
            run.memory = ProcStats.memory(pid, (long) memoryMiB << 20);
            if (run.memory.foundGuestRam()) {
                report("guest RAM resident", mib(run.memory.guestRamRssKiB()), "MiB");
                report("rest of the process resident (overhead)", mib(run.memory.overheadKiB()), "MiB");
            } else {
                out.printf("    no %d MiB guest-RAM mapping in smaps; total resident %.1f MiB%n", memoryMiB, mib(run.memory.totalRssKiB()));
            }

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
        }
        if (run.error != null) out.println("    FAILED: " + run.error.replace("\n", "\n      | "));
        if (run.rebuilt.get()) out.println("    note: the launcher rebuilt Visor during this boot: its boot time includes the build");
        out.flush();
        return run;
    }

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

    private void report(String what, double value, String unit) {
        out.printf(Locale.ROOT, "    %-42s %9.2f %s%n", what, value, unit);
        out.flush();
    }

    // ---- results ---------------------------------------------------------------------------------

    /** The guests must agree with each other (and sha256sum with Java). */
    private void checkOutputs() throws NoSuchAlgorithmException {
        String sha16 = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(new byte[16 << 20]));
        for (Run r : runs) {
            if (r.error != null) continue;
            if (!r.outputs[0].isEmpty()) warn(r, "the loop printed: " + r.outputs[0]);
            if (!r.outputs[1].contains(sha16 + "  -")) warn(r, "sha256sum of 16 MiB of zeros is not " + sha16 + ": " + r.outputs[1]);
        }
        List<String> sizes = runs.stream().filter(r -> r.error == null)
                .map(r -> lastLine(r.outputs[2])).distinct().toList();
        if (sizes.size() > 1) out.println("warning: gzip -1 output sizes differ between boots: " + sizes);
    }

    private void warn(Run r, String what) {
        out.println("warning: round " + r.round + ", " + r.engine.title + ": " + what);
    }

    private void printTable() {
        out.println();
        out.printf(Locale.ROOT, "Medians of %d round(s)%s:%n", rounds, rounds > 1 ? "" : " (one round: no spread)");
        String fmt = "%-40s %10s %10s %11s   %-16s %s%n";
        out.printf(Locale.ROOT, fmt, "figure", "Visor", "QEMU", "Visor/QEMU", "target", "");
        out.printf(Locale.ROOT, fmt, "-".repeat(40), "-".repeat(10), "-".repeat(10), "-".repeat(11), "-".repeat(16), "");
        ratioRow("boot to \"" + MARKER + "\" (s)", r -> r.bootSeconds, BOOT_TARGET);
        for (int i = 0; i < COMMANDS.size(); i++) {
            int k = i;
            ratioRow(COMMANDS.get(i).label() + " (s)", r -> r.commandSeconds[k], COMMAND_TARGET);
        }
        double idle = median(Engine.VISOR, r -> r.idleCpuPercent);
        out.printf(Locale.ROOT, fmt, "idle guest: VMM CPU (% of a core)", num(idle), "-", "-",
                "< " + IDLE_TARGET_PERCENT + " %", Double.isNaN(idle) ? "n/a" : idle < IDLE_TARGET_PERCENT ? "ok" : "MISSED");
        memoryRow("guest RAM resident (MiB)", m -> m.foundGuestRam() ? mib(m.guestRamRssKiB()) : Double.NaN);
        memoryRow("VMM overhead: total - guest RAM (MiB)", m -> m.foundGuestRam() ? mib(m.overheadKiB()) : Double.NaN);
        memoryRow("total resident (MiB)", m -> mib(m.totalRssKiB()));
        out.printf(Locale.ROOT, fmt, "exit status after poweroff -f", statuses(Engine.VISOR), statuses(Engine.QEMU), "", "0", "");
        long failed = runs.stream().filter(r -> r.error != null).count();
        if (failed > 0) out.println(failed + " boot(s) failed: their figures are left out (see above)");
        out.println("(QEMU's memory figures are for comparison only; the targets for idle CPU and memory concern Visor.)");
        out.flush();
    }

    private void ratioRow(String label, Function<Run, Double> figure, double target) {
        double v = median(Engine.VISOR, figure), q = median(Engine.QEMU, figure);
        double ratio = v / q;
        String verdict = Double.isNaN(ratio) ? "n/a" : ratio <= target ? "ok" : "MISSED";
        out.printf(Locale.ROOT, "%-40s %10s %10s %11s   %-16s %s%n", label, num(v), num(q),
                Double.isNaN(ratio) ? "-" : String.format(Locale.ROOT, "%.2fx", ratio), "Visor <= " + fmtTarget(target) + "x QEMU", verdict);
    }

    private void memoryRow(String label, Function<ProcStats.Memory, Double> figure) {
        Function<Run, Double> f = r -> r.memory == null ? Double.NaN : figure.apply(r.memory);
        double v = median(Engine.VISOR, f), q = median(Engine.QEMU, f);
        out.printf(Locale.ROOT, "%-40s %10s %10s %11s   %-16s %s%n", label, num(v), num(q),
                Double.isNaN(v / q) ? "-" : String.format(Locale.ROOT, "%.2fx", v / q), "(info)", "");
    }

    private String statuses(Engine e) {
        List<String> s = runs.stream().filter(r -> r.engine == e).map(r -> r.exitStatus == null ? "-" : r.exitStatus.toString()).toList();
        return String.join(",", s);
    }

    /** The median of a figure over the boots of {@code engine} that have it; NaN if none. */
    double median(Engine engine, Function<Run, Double> figure) {
        double[] v = runs.stream().filter(r -> r.engine == engine).mapToDouble(figure::apply).filter(x -> !Double.isNaN(x)).sorted().toArray();
        return BenchSupport.median(v);
    }

    // ---- small helpers ---------------------------------------------------------------------------

    private static String fmtTarget(double t) {
        return t == Math.rint(t) ? Long.toString((long) t) : Double.toString(t);
    }

    private static double mib(long kib) {
        return kib / 1024.0;
    }

    private static String lastLine(String s) {
        String[] lines = s.strip().split("\n");
        return lines[lines.length - 1].strip();
    }
}
