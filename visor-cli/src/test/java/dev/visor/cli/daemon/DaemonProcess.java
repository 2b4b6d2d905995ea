package dev.visor.cli.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.visor.cli.Main;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real {@code visor daemon} in a child JVM, as an operator runs it, and a small HTTP client for
 * its API. {@link #killVmms} ends the VMM processes it started, which outlive it by design.
 */
final class DaemonProcess implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    final Process process;
    final Path stateDir;
    final String url;
    private final StringBuffer out;

    private DaemonProcess(Process process, Path stateDir, String url, StringBuffer out) {
        this.process = process;
        this.stateDir = stateDir;
        this.url = url;
        this.out = out;
    }

    static DaemonProcess start(Path stateDir) throws Exception {
        // as root each VMM runs as a user of its own, which must be able to pass through to its
        // files: JUnit's temporary directory is 0700, /var/lib (the default's parent) is 0755
        java.nio.file.Files.setPosixFilePermissions(stateDir.toAbsolutePath().getParent(),
                java.nio.file.attribute.PosixFilePermissions.fromString("rwx--x--x"));
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Xss16m", "-Xmx256m", "-cp", classPath, Main.class.getName(),
                "daemon", "--state-dir", stateDir.toString(), "--listen", "127.0.0.1:0"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        StringBuffer out = new StringBuffer();
        Thread.ofPlatform().daemon().start(() -> {
            try (InputStream s = p.getInputStream()) {
                byte[] b = new byte[4096];
                int n;
                while ((n = s.read(b)) > 0) out.append(new String(b, 0, n, StandardCharsets.UTF_8));
            } catch (IOException ignored) {
                // ended
            }
        });
        Pattern listening = Pattern.compile("listening on (http://\\S+)");
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            Matcher m = listening.matcher(out);
            if (m.find()) return new DaemonProcess(p, stateDir, m.group(1), out);
            if (!p.isAlive() || System.nanoTime() > end) {
                p.destroyForcibly();
                throw new AssertionError("the daemon did not start:\n" + out);
            }
            Thread.sleep(50);
        }
    }

    String adminToken() throws IOException { return Files.readString(stateDir.resolve("admin.token")).strip(); }

    String output() { return out.toString(); }

    record Response(int status, String body) {
        JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new AssertionError("not JSON (" + status + "): " + body);
            }
        }
    }

    Response call(String method, String path, String token, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + path)).timeout(Duration.ofSeconds(180))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) b.header("Authorization", "Bearer " + token);
        if (body != null) b.header("Content-Type", "application/json");
        HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return new Response(r.statusCode(), r.body());
    }

    /** Calls and checks the status; returns the JSON answer (or null for 204). */
    JsonNode ok(int status, String method, String path, String token, String body) throws Exception {
        Response r = call(method, path, token, body);
        if (r.status() != status) throw new AssertionError(method + " " + path + " answered " + r.status() + " (expected " + status + "): " + r.body());
        return r.body().isEmpty() ? null : r.json();
    }

    /** Polls GET /vms/NAME until {@code until} holds. */
    JsonNode awaitVm(String name, String token, Predicate<JsonNode> until, int seconds, String what) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        JsonNode vm = null;
        while (System.nanoTime() < end) {
            vm = ok(200, "GET", "/api/v1/vms/" + name, token, null);
            if (until.test(vm)) return vm;
            Thread.sleep(200);
        }
        throw new AssertionError("VM " + name + " never " + what + ": " + vm);
    }

    /** Stops this daemon (SIGTERM, as systemd would); its VMs keep running. */
    void stop() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) stop();
    }

    /** Kills every VMM process started for VMs under {@code stateDir} (they outlive the daemon by design). */
    static void killVmms(Path stateDir) {
        String key = stateDir.toAbsolutePath().normalize().toString();
        // /proc/PID/cmdline directly: ProcessHandle.Info leaves out the arguments of long command lines
        ProcessHandle.allProcesses().filter(h -> {
            try {
                String cmd = new String(Files.readAllBytes(Path.of("/proc", Long.toString(h.pid()), "cmdline")), StandardCharsets.UTF_8);
                return cmd.contains(key) && cmd.contains("\0run\0");
            } catch (IOException e) {
                return false;
            }
        }).forEach(ProcessHandle::destroyForcibly);
    }
}
