package dev.visor.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.visor.images.InitramfsBuilder;
import dev.visor.vmm.Sizes;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static dev.visor.bench.BenchSupport.loadAverage;
import static dev.visor.bench.BenchSupport.positive;
import static dev.visor.bench.BenchSupport.seconds;

/**
 * How many small VMs fit on this host, run by visord as an operator would: a daemon in a child
 * process ({@code ./visor daemon --state-dir TMP --listen 127.0.0.1:0}), a template VM (128 MiB by
 * default, one vCPU, no NIC) booted to its shell and snapshotted ({@code tmpl/base}), then clones of
 * that snapshot ({@code {"snapshot":"tmpl/base"}}) defined and started one after another through the
 * REST API until {@code --max} run (default {@value #DEFAULT_MAX}, at most {@value #LIMIT}: ESXi's
 * figure for powered-on VMs per host), or the host's MemAvailable falls below {@code --reserve}, or a
 * start fails or takes longer than {@value #START_LIMIT_S} s. Each clone's VMM maps the snapshot's
 * RAM file copy-on-write, so what the clones share is counted once by PSS.
 *
 * <p>With them all running it measures: the latency of {@code GET /api/v1/vms} and
 * {@code GET /api/v1/vms/c1} ({@value #SAMPLES} calls each: p50, p95, p99, max); host memory per VM
 * three ways (the sum of the VMM processes' VmRSS, the sum of their Pss from
 * /proc/PID/smaps_rollup, and the drop in MemAvailable from before the first clone to now, each over
 * N); the daemon's own RSS and PSS; the time to start them all (total and per VM); and the host's
 * load average. It prints a table and a one-line summary. At the end (also after a failure or
 * Ctrl-C) every VM is killed (POST /kill, then any process whose command line holds the state
 * directory), the daemon is stopped and the state directory deleted. Run it through
 * {@code bench/density}, which builds what it needs first.
 */
public final class DensityBenchmark {
    static final int DEFAULT_MAX = 64;
    /** ESXi's maximum of powered-on VMs per host. */
    static final int LIMIT = 256;
    static final int START_LIMIT_S = 60;
    static final int SAMPLES = 200;
    static final int WARMUP_CALLS = 10;
    static final Duration SETTLE = Duration.ofSeconds(5);
    static final Duration BOOT_TIMEOUT = Duration.ofSeconds(300);
    static final Duration DAEMON_TIMEOUT = Duration.ofSeconds(120);
    static final String MARKER = InitramfsBuilder.READY_MARKER;
    static final String PROMPT = "~ # ";
    /** The JVM options visord gives each VMM before VISOR_VMM_JAVA_OPTS (DaemonCommand.vmmCommand()). */
    static final String DAEMON_VMM_OPTS = "-XX:+UseParallelGC -Xmx512m -Xss16m";
    static final String API = "/api/v1";
    static final ObjectMapper JSON = new ObjectMapper();
    static final double MIB = 1024.0 * 1024.0;

    // ---- options ---------------------------------------------------------------------------------

    int max = DEFAULT_MAX;
    String memory = "128M";
    long reserveBytes = 2L << 30;
    String reserveText = "2G";
    Path visor;
    /** --vmm-java-opts; null: VISOR_VMM_JAVA_OPTS as this process's environment has it (if at all). */
    String vmmJavaOpts;

    static final String USAGE = """
            usage: density [options]
              --max N               clones to start at most (default %d, at most %d)
              --memory SIZE         the template's guest RAM, which each clone inherits (default 128M)
              --reserve SIZE        stop starting clones when MemAvailable falls below this (default 2G)
              --vmm-java-opts STR   JVM options for every VMM (sets VISOR_VMM_JAVA_OPTS for the daemon, which
                                    puts them after its own: %s),
                                    e.g. '-XX:+UseSerialGC -Xmx64m -XX:TieredStopAtLevel=1'
                                    (another collector: -XX:-UseParallelGC is put first)
              --visor PATH          the visor launcher (default: ./visor of this source tree)
            A start that fails or takes longer than %d s also ends the ramp. Extra JVM options for the
            daemon itself go in VISOR_JAVA_OPTS (./visor passes them on).
            """.formatted(DEFAULT_MAX, LIMIT, DAEMON_VMM_OPTS, START_LIMIT_S);

    // ---- state -----------------------------------------------------------------------------------

    private final PrintStream out = System.out;
    private final PrintStream err = System.err;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private boolean cleaned; // guarded by this
    private volatile boolean interrupted;
    private final StringBuffer daemonOutput = new StringBuffer();
    private volatile Process daemon;
    private volatile Path stateDir;
    private volatile String url;
    private volatile String token;

    /** One started clone: its name, VMM pid and how long POST /start took. */
    record Clone(String name, long pid, long startNanos) {}

    /** Memory of one process from /proc: VmRSS and Pss, in bytes (-1 if unread). */
    record ProcMemory(long rss, long pss) {}

    public static void main(String[] args) throws Exception {
        DensityBenchmark b = new DensityBenchmark();
        try {
            b.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("density: " + e.getMessage());
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
            if (a.equals("-h") || a.equals("--help")) {
                System.out.print(USAGE);
                System.exit(0);
            }
            if (v == null) {
                if (i + 1 >= args.length) throw new IllegalArgumentException(a + " needs a value");
                v = args[++i];
            }
            switch (a) {
                case "--max" -> {
                    max = positive(a, v);
                    if (max > LIMIT) throw new IllegalArgumentException("--max is at most " + LIMIT + ", not " + max);
                }
                case "--memory" -> {
                    parseSize(a, v); // checked here; the daemon checks its range
                    memory = v;
                }
                case "--reserve" -> {
                    reserveBytes = parseSize(a, v);
                    reserveText = v;
                }
                case "--vmm-java-opts" -> vmmJavaOpts = withGcSwitch(v.strip());
                case "--visor" -> visor = Path.of(v);
                default -> throw new IllegalArgumentException("unknown option " + a);
            }
        }
        if (visor == null) {
            String root = System.getProperty("visor.root");
            visor = Path.of(root != null ? root : ".").resolve("visor");
        }
    }

    /**
     * The daemon gives every VMM -XX:+UseParallelGC before VISOR_VMM_JAVA_OPTS, and a JVM refuses to
     * start with two collectors selected ("Multiple garbage collectors selected"): when {@code opts}
     * pick another collector, -XX:-UseParallelGC goes first (the later flag wins).
     */
    static String withGcSwitch(String opts) {
        boolean otherGc = Pattern.compile("(^|\\s)-XX:\\+Use(?!Parallel)\\w+GC(\\s|$)").matcher(opts).find();
        return otherGc && !opts.contains("-XX:-UseParallelGC") ? "-XX:-UseParallelGC " + opts : opts;
    }

    /** A size option: "128M", "2G" or a number of bytes (see {@link Sizes}). */
    static long parseSize(String option, String v) {
        try {
            long n = Sizes.parse(v);
            if (n > 0) return n;
        } catch (IllegalArgumentException e) {
            // below, naming the option
        }
        throw new IllegalArgumentException(option + " must be a size such as 128M or 2G, not '" + v + "'");
    }

    // ---- the run ---------------------------------------------------------------------------------

    int run() throws Exception {
        if (!Files.isExecutable(visor)) {
            err.println("density: " + visor + " is not an executable visor launcher (use --visor)");
            return 1;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            interrupted = true;
            cleanUp();
        }, "density-cleanup"));
        try {
            return measure();
        } catch (BenchFailure e) {
            out.println();
            out.println("density: FAILED: " + e.getMessage());
            String tail = tail(daemonOutput.toString(), 15);
            if (!tail.isBlank()) out.println("  the daemon's last output:\n    " + tail.replace("\n", "\n    "));
            return 1;
        } catch (IOException e) {
            Process d = daemon;
            if (interrupted || d != null && !d.isAlive()) { // Ctrl-C reaches the daemon too; the hook ends the rest
                out.println();
                out.println("density: " + (interrupted ? "interrupted" : "the daemon is gone") + " (" + e.getMessage() + ")");
            } else {
                out.println();
                out.println("density: FAILED: " + e);
            }
            return 1;
        } finally {
            cleanUp();
        }
    }

    /** A step that the benchmark cannot go on without failed. */
    static final class BenchFailure extends Exception {
        BenchFailure(String message) { super(message); }
    }

    private int measure() throws Exception {
        String envOpts = System.getenv("VISOR_VMM_JAVA_OPTS");
        String usedOpts = vmmJavaOpts != null ? vmmJavaOpts : envOpts != null ? envOpts.strip() : "";
        long memTotal = meminfo("MemTotal");
        out.println("Visor density: clones of one snapshot started through visord until --max, the memory reserve or a slow/failed start");
        out.println("  host:      " + Runtime.getRuntime().availableProcessors() + " CPUs, " + gib(memTotal) + " MemTotal, "
                + gib(meminfo("MemAvailable")) + " MemAvailable, load average " + loadAverage());
        out.printf(Locale.ROOT, "  plan:      template 'tmpl' (%s, 1 vCPU, no NIC) booted to its shell, snapshot tmpl/base, then up to %d clones c1..c%d%n",
                memory, max, max);
        out.printf(Locale.ROOT, "  stops at:  %d clones, MemAvailable below %s (--reserve %s), a failed start, or a start over %d s%n",
                max, gib(reserveBytes), reserveText, START_LIMIT_S);
        out.println("  VMM JVM:   " + DAEMON_VMM_OPTS + " (the daemon's)"
                + (usedOpts.isEmpty() ? " + nothing (VISOR_VMM_JAVA_OPTS unset)" : " + VISOR_VMM_JAVA_OPTS='" + usedOpts + "'"
                + (vmmJavaOpts != null ? " (--vmm-java-opts)" : " (from the environment)")));
        String daemonOpts = System.getenv("VISOR_JAVA_OPTS");
        if (daemonOpts != null && !daemonOpts.isBlank()) out.println("  daemon JVM: + VISOR_JAVA_OPTS='" + daemonOpts.strip() + "'");
        out.flush();

        warmUpLauncher();
        startDaemon(usedOpts);

        // ---- the template: boot, snapshot, shut down
        call("POST", API + "/vms", Map.of("name", "tmpl", "memory", memory, "nets", List.of("none")), 201, Duration.ofSeconds(30));
        long t0 = System.nanoTime();
        call("POST", API + "/vms/tmpl/start", null, 200, Duration.ofSeconds(180));
        waitForShell("tmpl", t0);
        out.printf(Locale.ROOT, "  tmpl booted to its shell in %.1f s%n", seconds(System.nanoTime() - t0));
        Thread.sleep(1000); // the shell sits at its prompt, waiting for input
        t0 = System.nanoTime();
        JsonNode snap = call("POST", API + "/vms/tmpl/snapshots", Map.of("name", "base"), 201, Duration.ofSeconds(120));
        out.printf(Locale.ROOT, "  snapshot tmpl/base: %s of RAM saved in %.2f s (%s)%n", mib(snap.path("ramBytes").asLong()),
                seconds(System.nanoTime() - t0), snap.path("path").asText());
        JsonNode down = call("POST", API + "/vms/tmpl/shutdown", null, 200, Duration.ofSeconds(120));
        out.println("  tmpl shut down (state " + down.path("state").asText() + ")");
        out.flush();
        Thread.sleep(2000); // the template's VMM memory goes back to the host before the baseline

        // ---- the ramp: c1, c2, ... one after another
        out.println();
        out.println("Starting clones (POST /vms/cN/start returns once the VMM answers):");
        List<Clone> clones = new ArrayList<>();
        long availBefore = meminfo("MemAvailable");
        String stopReason = null;
        long rampStart = System.nanoTime();
        for (int i = 1; i <= max; i++) {
            String name = "c" + i;
            long avail = meminfo("MemAvailable");
            if (avail < reserveBytes) {
                stopReason = "MemAvailable " + gib(avail) + " fell below the reserve " + gib(reserveBytes) + " (--reserve " + reserveText + ")";
                break;
            }
            Response d = send("POST", API + "/vms", Map.of("name", name, "snapshot", "tmpl/base", "nets", List.of("none")), Duration.ofSeconds(30));
            if (d.status != 201) {
                stopReason = "defining " + name + " failed: " + d.status + " " + d.error();
                break;
            }
            long s0 = System.nanoTime();
            Response r;
            try {
                r = send("POST", API + "/vms/" + name + "/start", null, Duration.ofSeconds(300));
            } catch (HttpTimeoutException e) {
                stopReason = name + "'s start did not return within 300 s";
                break;
            }
            long took = System.nanoTime() - s0;
            if (r.status != 200) {
                stopReason = name + " did not start after " + String.format(Locale.ROOT, "%.1f s", seconds(took)) + ": " + r.status + " " + r.error();
                break;
            }
            long pid = r.json().path("pid").asLong(-1);
            clones.add(new Clone(name, pid, took));
            out.printf(Locale.ROOT, "  %-5s started in %6.2f s   pid %-8d MemAvailable %s   load %s%n", name, seconds(took), pid,
                    gib(meminfo("MemAvailable")), loadAverage());
            if (i == 1) out.println("        its VMM's JVM options: " + jvmOptions(pid));
            out.flush();
            if (took > TimeUnit.SECONDS.toNanos(START_LIMIT_S)) {
                stopReason = String.format(Locale.ROOT, "%s took %.1f s to start (limit %d s)", name, seconds(took), START_LIMIT_S);
                break;
            }
        }
        long rampNanos = System.nanoTime() - rampStart;
        if (stopReason == null) stopReason = "reached --max " + max;
        int n = clones.size();
        out.println("  stopped: " + stopReason);
        if (n == 0) throw new BenchFailure("no clone started (" + stopReason + ")");

        // ---- with all running
        out.printf(Locale.ROOT, "%nAll %d running; settling for %d s, then %d calls of each GET (after %d warm-up calls)%n",
                n, SETTLE.toSeconds(), SAMPLES, WARMUP_CALLS);
        out.flush();
        Thread.sleep(SETTLE.toMillis());
        JsonNode vms = call("GET", API + "/vms", null, 200, Duration.ofSeconds(30));
        List<String> notRunning = new ArrayList<>();
        Map<String, Long> pids = new LinkedHashMap<>();
        for (JsonNode vm : vms) {
            String name = vm.path("name").asText();
            if (!name.startsWith("c")) continue;
            if ("running".equals(vm.path("state").asText()) && vm.path("pid").canConvertToLong()) {
                pids.put(name, vm.path("pid").asLong());
            } else {
                notRunning.add(name + " " + vm.path("state").asText() + (vm.path("lastError").isNull() ? "" : " (" + vm.path("lastError").asText() + ")"));
            }
        }
        double[] listMs = latencies(API + "/vms");
        double[] oneMs = latencies(API + "/vms/c1");

        long availAfter = meminfo("MemAvailable");
        long rssSum = 0, pssSum = 0;
        List<Long> pssEach = new ArrayList<>();
        for (long pid : pids.values()) {
            ProcMemory m = procMemory(pid);
            if (m.rss >= 0) rssSum += m.rss;
            if (m.pss >= 0) {
                pssSum += m.pss;
                pssEach.add(m.pss);
            }
        }
        pssEach.sort(null);
        ProcMemory dm = procMemory(daemon.pid());
        String load = loadAverage();
        int measured = pids.size();

        double[] starts = clones.stream().mapToDouble(c -> c.startNanos / 1e9).sorted().toArray();
        double pssPer = pssSum / (double) measured / MIB, rssPer = rssSum / (double) measured / MIB;
        double availPer = (availBefore - availAfter) / (double) n / MIB;
        double eachS = seconds(rampNanos) / n;

        // ---- the table
        out.println();
        out.printf(Locale.ROOT, "Density: %d VMs from one snapshot (tmpl/base: %s guest RAM, 1 vCPU, no NIC), %d CPUs, %s MemTotal%n",
                n, memory, Runtime.getRuntime().availableProcessors(), gib(memTotal));
        String fmt = "  %-44s %s%n";
        out.printf(Locale.ROOT, fmt, "figure", "value");
        out.printf(Locale.ROOT, fmt, "-".repeat(44), "-".repeat(60));
        out.printf(Locale.ROOT, fmt, "VMs started (why the ramp stopped)", n + " (" + stopReason + ")");
        out.printf(Locale.ROOT, fmt, "VMs running when measured", measured + (notRunning.isEmpty() ? "" : "; not running: " + String.join(", ", notRunning)));
        out.printf(Locale.ROOT, fmt, "host memory per VM: PSS (smaps_rollup)", String.format(Locale.ROOT,
                "%.1f MiB  (sum %.0f MiB; per VMM min %.1f, median %.1f, max %.1f MiB)", pssPer, pssSum / MIB,
                pssEach.isEmpty() ? Double.NaN : pssEach.getFirst() / MIB, pssEach.isEmpty() ? Double.NaN : pssEach.get(pssEach.size() / 2) / MIB,
                pssEach.isEmpty() ? Double.NaN : pssEach.getLast() / MIB));
        out.printf(Locale.ROOT, fmt, "host memory per VM: RSS (VmRSS)", String.format(Locale.ROOT, "%.1f MiB  (sum %.0f MiB)", rssPer, rssSum / MIB));
        out.printf(Locale.ROOT, fmt, "host memory per VM: MemAvailable drop", String.format(Locale.ROOT,
                "%.1f MiB  (%s before c1, %s now: %.0f MiB)", availPer, gib(availBefore), gib(availAfter), (availBefore - availAfter) / MIB));
        out.printf(Locale.ROOT, fmt, "daemon (visord) RSS / PSS", String.format(Locale.ROOT, "%.1f MiB / %.1f MiB", dm.rss / MIB, dm.pss / MIB));
        out.printf(Locale.ROOT, fmt, "start all (define + start, one by one)", String.format(Locale.ROOT,
                "%.1f s  (%.2f s per VM)", seconds(rampNanos), eachS));
        out.printf(Locale.ROOT, fmt, "one start: mean / p50 / p95 / max", String.format(Locale.ROOT,
                "%.2f / %.2f / %.2f / %.2f s  (first %.2f s, last %.2f s)", Arrays.stream(starts).average().orElse(Double.NaN),
                pct(starts, 50), pct(starts, 95), starts[starts.length - 1], seconds(clones.getFirst().startNanos), seconds(clones.getLast().startNanos)));
        out.printf(Locale.ROOT, fmt, "GET /api/v1/vms: p50 / p95 / p99 / max", latencyText(listMs) + String.format(Locale.ROOT, "  (%d calls, %d VMs listed)", SAMPLES, vms.size()));
        out.printf(Locale.ROOT, fmt, "GET /api/v1/vms/c1: p50 / p95 / p99 / max", latencyText(oneMs) + String.format(Locale.ROOT, "  (%d calls)", SAMPLES));
        out.printf(Locale.ROOT, fmt, "host load average (1, 5, 15 min)", load);
        out.printf(Locale.ROOT, fmt, "VMM JVM options", DAEMON_VMM_OPTS + (usedOpts.isEmpty() ? "" : " " + usedOpts));
        out.println("  (PSS: each VMM's proportional set, pages shared with other processes (the snapshot's RAM file, the JVM's");
        out.println("   libraries and class data) divided among their users; RSS counts shared pages in full for every VMM;");
        out.println("   MemAvailable's drop also holds the daemon's growth and anything else that changed on the host meanwhile.)");
        out.println();
        out.printf(Locale.ROOT, "density: %d VMs from one snapshot; host memory per VM: %.0f MiB (PSS), %.0f MiB (RSS), %.0f MiB (MemAvailable);"
                        + " start all: %.0f s (%.1f s each, p95 %.1f s); API latency with all running: GET /vms p50 %.1f ms p99 %.1f ms%n",
                n, pssPer, rssPer, availPer, seconds(rampNanos), eachS, pct(starts, 95), pct(listMs, 50), pct(listMs, 99));
        out.flush();
        return 0;
    }

    /** Runs the launcher once (it builds Visor when sources changed) so no build lands inside the daemon's start. */
    private void warmUpLauncher() throws IOException, InterruptedException {
        out.println("  warming up the launcher: " + visor + " --version");
        Process p = new ProcessBuilder(visor.toString(), "--version").redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        p.waitFor();
        out.println("    " + text.replace("\n", "\n    "));
        out.flush();
    }

    /** {@code visor daemon --state-dir TMP --listen 127.0.0.1:0}; waits for its "listening on" line and its admin token. */
    private void startDaemon(String vmmOpts) throws IOException, InterruptedException, BenchFailure {
        stateDir = Files.createTempDirectory("visor-density-");
        ProcessBuilder pb = new ProcessBuilder(visor.toString(), "daemon", "--state-dir", stateDir.toString(), "--listen", "127.0.0.1:0")
                .redirectErrorStream(true);
        if (vmmOpts.isEmpty()) pb.environment().remove("VISOR_VMM_JAVA_OPTS");
        else pb.environment().put("VISOR_VMM_JAVA_OPTS", vmmOpts);
        long t0 = System.nanoTime();
        Process p = pb.start();
        daemon = p;
        Thread.ofPlatform().daemon().name("visord-output").start(() -> {
            try (InputStream s = p.getInputStream()) {
                byte[] b = new byte[4096];
                int k;
                while ((k = s.read(b)) > 0) daemonOutput.append(new String(b, 0, k, StandardCharsets.UTF_8));
            } catch (IOException ignored) {
                // it ended
            }
        });
        Pattern listening = Pattern.compile("listening on (http://\\S+)");
        long deadline = System.nanoTime() + DAEMON_TIMEOUT.toNanos();
        Path tokenFile = stateDir.resolve("admin.token");
        while (true) {
            Matcher m = listening.matcher(daemonOutput);
            if (m.find() && Files.isRegularFile(tokenFile)) {
                url = m.group(1);
                String t = Files.readString(tokenFile).strip();
                if (!t.isEmpty()) {
                    token = t;
                    break;
                }
            }
            if (!p.isAlive()) throw new BenchFailure("the daemon exited with status " + p.exitValue() + " before it listened");
            if (System.nanoTime() > deadline) throw new BenchFailure("the daemon did not listen within " + DAEMON_TIMEOUT.toSeconds() + " s");
            Thread.sleep(50);
        }
        out.printf(Locale.ROOT, "  daemon: pid %d, %s, state in %s (up in %.1f s)%n", p.pid(), url, stateDir, seconds(System.nanoTime() - t0));
        for (String line : daemonOutput.toString().lines().toList()) { // what it says about isolation, cgroups, ...
            if (!line.contains("listening on") && !line.contains("admin token")) out.println("    " + line);
        }
        out.flush();
    }

    /** Reads the VM's console scroll-back until it shows the shell's ready marker (then its prompt, briefly). */
    private void waitForShell(String vm, long since) throws Exception {
        long deadline = since + BOOT_TIMEOUT.toNanos();
        String log = "";
        while (System.nanoTime() < deadline) {
            Response r = send("GET", API + "/vms/" + vm + "/console/log", null, Duration.ofSeconds(30));
            if (r.status != 200) throw new BenchFailure("GET console/log of " + vm + ": " + r.status + " " + r.error());
            log = r.body;
            int at = log.indexOf(MARKER);
            if (at >= 0) {
                long promptDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (!log.substring(at).contains(PROMPT) && System.nanoTime() < promptDeadline) {
                    Thread.sleep(200);
                    log = send("GET", API + "/vms/" + vm + "/console/log", null, Duration.ofSeconds(30)).body;
                    at = Math.max(0, log.indexOf(MARKER));
                }
                return;
            }
            JsonNode state = call("GET", API + "/vms/" + vm, null, 200, Duration.ofSeconds(30));
            if (!"running".equals(state.path("state").asText())) {
                throw new BenchFailure(vm + " is " + state.path("state").asText() + " before its shell was ready: " + state.path("lastError").asText());
            }
            Thread.sleep(250);
        }
        throw new BenchFailure(vm + "'s console did not show '" + MARKER + "' within " + BOOT_TIMEOUT.toSeconds() + " s; its end: "
                + tail(log, 5));
    }

    /** {@value #SAMPLES} timed calls of {@code GET path} after {@value #WARMUP_CALLS} untimed ones; ascending milliseconds. */
    private double[] latencies(String path) throws Exception {
        for (int i = 0; i < WARMUP_CALLS; i++) call("GET", path, null, 200, Duration.ofSeconds(30));
        double[] ms = new double[SAMPLES];
        for (int i = 0; i < SAMPLES; i++) {
            long t0 = System.nanoTime();
            Response r = send("GET", path, null, Duration.ofSeconds(30));
            ms[i] = (System.nanoTime() - t0) / 1e6;
            if (r.status != 200) throw new BenchFailure("GET " + path + " answered " + r.status + ": " + r.error());
        }
        Arrays.sort(ms);
        return ms;
    }

    private static String latencyText(double[] ms) {
        return String.format(Locale.ROOT, "%.2f / %.2f / %.2f / %.2f ms", pct(ms, 50), pct(ms, 95), pct(ms, 99), ms[ms.length - 1]);
    }

    /** The nearest-rank percentile {@code p} of ascending {@code sorted}; NaN if empty. */
    static double pct(double[] sorted, double p) {
        if (sorted.length == 0) return Double.NaN;
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.clamp(rank - 1, 0, sorted.length - 1)];
    }

    // ---- HTTP ------------------------------------------------------------------------------------

    record Response(int status, String body) {
        JsonNode json() throws IOException { return JSON.readTree(body); }

        /** The API's {"error": ...} message, else the body. */
        String error() {
            try {
                JsonNode e = JSON.readTree(body).path("error");
                if (e.isTextual()) return e.asText();
            } catch (IOException | RuntimeException ignored) {
                // not JSON
            }
            return body.strip();
        }
    }

    private Response send(String method, String path, Object body, Duration timeout) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + path)).timeout(timeout)
                .header("Authorization", "Bearer " + token)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)));
        if (body != null) b.header("Content-Type", "application/json");
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return new Response(r.statusCode(), r.body());
    }

    /** Calls and checks the status; the JSON answer (or null for an empty body). */
    private JsonNode call(String method, String path, Object body, int expect, Duration timeout) throws Exception {
        Response r = send(method, path, body, timeout);
        if (r.status != expect) throw new BenchFailure(method + " " + path + " answered " + r.status + ": " + r.error());
        return r.body.isEmpty() ? null : r.json();
    }

    // ---- /proc -----------------------------------------------------------------------------------

    /** A /proc/meminfo field in bytes (e.g. MemAvailable). */
    static long meminfo(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
            if (line.startsWith(field + ":")) return kib(line) * 1024;
        }
        throw new IOException("/proc/meminfo has no " + field);
    }

    /** VmRSS (/proc/PID/status) and Pss (/proc/PID/smaps_rollup) of {@code pid}, in bytes; -1 for what could not be read. */
    static ProcMemory procMemory(long pid) {
        return new ProcMemory(procField(Path.of("/proc", Long.toString(pid), "status"), "VmRSS:"),
                procField(Path.of("/proc", Long.toString(pid), "smaps_rollup"), "Pss:"));
    }

    private static long procField(Path file, String prefix) {
        try {
            for (String line : Files.readAllLines(file)) {
                if (line.startsWith(prefix)) return kib(line) * 1024;
            }
        } catch (IOException e) {
            // gone
        }
        return -1;
    }

    /** "MemAvailable:   123456 kB" -> 123456 */
    private static long kib(String line) {
        String[] f = line.trim().split("\\s+");
        return Long.parseLong(f[1]);
    }

    /** The JVM options of a VMM (its command line between the java binary and -cp), or "?". */
    static String jvmOptions(long pid) {
        try {
            String[] a = Files.readString(Path.of("/proc", Long.toString(pid), "cmdline")).split("\0");
            List<String> opts = new ArrayList<>();
            for (int i = 1; i < a.length && !a[i].equals("-cp") && !a[i].equals("-classpath"); i++) opts.add(a[i]);
            return Path.of(a[0]).getFileName() + " " + String.join(" ", opts);
        } catch (IOException | RuntimeException e) {
            return "?";
        }
    }

    private static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.2f GiB", bytes / (MIB * 1024));
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.0f MiB", bytes / MIB);
    }

    private static String tail(String text, int lines) {
        List<String> l = text.strip().lines().toList();
        return String.join("\n", l.subList(Math.max(0, l.size() - lines), l.size()));
    }

    // ---- the end ---------------------------------------------------------------------------------

    /**
     * Kills every VM (POST /kill for each active one, then SIGKILL to any process whose command line
     * holds the state directory), stops the daemon and deletes the state directory. Runs once: at
     * the end, after a failure, or from the shutdown hook on Ctrl-C; a second caller waits for the
     * first to finish (the JVM would otherwise end while the main thread is still cleaning up).
     */
    synchronized void cleanUp() {
        if (cleaned) return;
        cleaned = true;
        Path dir = stateDir;
        Process d = daemon;
        if (dir == null) return;
        int viaApi = 0;
        if (d != null && d.isAlive() && url != null && token != null) {
            try {
                Response r = send("GET", API + "/vms", null, Duration.ofSeconds(10));
                if (r.status == 200) {
                    for (JsonNode vm : r.json()) {
                        String state = vm.path("state").asText();
                        if (state.equals("stopped") || state.equals("crashed")) continue;
                        try {
                            if (send("POST", API + "/vms/" + vm.path("name").asText() + "/kill", null, Duration.ofSeconds(20)).status == 200) viaApi++;
                        } catch (IOException e) {
                            // the daemon is going (Ctrl-C reaches it too): the sweep below ends the VMMs
                        }
                    }
                }
            } catch (IOException | InterruptedException e) {
                // the sweep below ends the VMMs
            }
        }
        long daemonPid = d != null ? d.pid() : -1;
        int swept = killByStateDir(dir, daemonPid);
        String daemonEnd = "not started";
        if (d != null) {
            d.destroy(); // SIGTERM: visord's own orderly stop
            try {
                if (!d.waitFor(30, TimeUnit.SECONDS)) {
                    d.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                    daemonEnd = "killed (no exit within 30 s of SIGTERM)";
                } else {
                    daemonEnd = "stopped";
                }
            } catch (InterruptedException e) {
                d.destroyForcibly();
                daemonEnd = "killed";
            }
        }
        swept += killByStateDir(dir, -1);
        deleteTree(dir);
        out.printf("cleaned up: %d VM(s) killed through the API, %d leftover process(es) killed; daemon %s; %s deleted%n",
                viaApi, swept, daemonEnd, dir);
        out.flush();
    }

    /** SIGKILLs every process (but this one and {@code except}) whose command line contains {@code dir}; waits for them. */
    private static int killByStateDir(Path dir, long except) {
        String key = dir.toAbsolutePath().normalize().toString();
        long self = ProcessHandle.current().pid();
        List<ProcessHandle> victims = ProcessHandle.allProcesses()
                .filter(h -> h.pid() != self && h.pid() != except)
                .filter(h -> commandLine(h.pid()).contains(key))
                .toList();
        victims.forEach(ProcessHandle::destroyForcibly);
        for (ProcessHandle h : victims) {
            try {
                h.onExit().get(10, TimeUnit.SECONDS);
            } catch (Exception ignored) {
                // it is going; nothing more to do
            }
        }
        return victims.size();
    }

    private static String commandLine(long pid) {
        try {
            return Files.readString(Path.of("/proc", Long.toString(pid), "cmdline")).replace('\0', ' ');
        } catch (IOException | RuntimeException e) { // gone, or not ours to read
            return "";
        }
    }

    private static void deleteTree(Path p) {
        if (p == null || !Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            s.sorted(Comparator.reverseOrder()).forEach(x -> {
                try {
                    Files.deleteIfExists(x);
                } catch (IOException e) {
                    System.err.println("density: could not delete " + x + ": " + e.getMessage());
                }
            });
        } catch (IOException e) {
            System.err.println("density: could not delete " + p + ": " + e.getMessage());
        }
    }
}
