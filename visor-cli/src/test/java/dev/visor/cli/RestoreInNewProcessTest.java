package dev.visor.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A guest snapshotted in one {@code visor run} process goes on in another ({@code visor run
 * --restore}): its counter continues instead of starting over and its uptime keeps growing. Both
 * are real processes of the CLI, as a user runs them.
 */
class RestoreInNewProcessTest {
    @TempDir
    Path dir;

    @Test
    void aSnapshotRestoredInANewProcessContinues() throws Exception {
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Path image = Path.of(System.getProperty("user.home"), ".cache", "visor", "images", "default", "Image");
        assumeTrue(System.getenv("VISOR_CACHE") == null && Files.exists(image), "no default image in the cache");
        Path socket = dir.resolve("vm.sock"), snap = dir.resolve("snap");

        Child first = Child.start(classPath, "run", "--net", "none", "--control", socket.toString());
        long before;
        double uptimeBefore;
        try {
            first.waitFor("visor: shell ready", 180);
            first.type("(i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.2; done) >/dev/null 2>&1 &");
            Thread.sleep(2000);
            before = number(first.command("echo C=$(cat /tmp/counter)", "C=(\\d+)"));
            uptimeBefore = Double.parseDouble(first.command("echo U=$(cut -d' ' -f1 /proc/uptime)", "U=([0-9.]+)"));
            assertTrue(before >= 3, "the counter runs: " + before);
            String answer = control(socket, "snapshot " + snap);
            assertTrue(answer.startsWith("ok "), answer);
        } finally {
            first.process.destroyForcibly();
            first.process.waitFor(30, TimeUnit.SECONDS);
        }

        Child second = Child.start(classPath, "run", "--restore", snap.toString());
        try {
            Thread.sleep(1000);
            long after = number(second.command("echo C=$(cat /tmp/counter)", "C=(\\d+)"));
            double uptimeAfter = Double.parseDouble(second.command("echo U=$(cut -d' ' -f1 /proc/uptime)", "U=([0-9.]+)"));
            assertTrue(after > before, "the counter went from " + before + " to " + after + " (a reset or a stop)");
            assertTrue(uptimeAfter > uptimeBefore, "uptime went from " + uptimeBefore + " to " + uptimeAfter);
            second.type("poweroff -f");
            assertTrue(second.process.waitFor(60, TimeUnit.SECONDS), "the restored VM did not power off");
            assertEquals(0, second.process.exitValue(), second.output());
        } finally {
            second.process.destroyForcibly();
        }
    }

    private static long number(String s) { return Long.parseLong(s); }

    /** One command over the VM's control socket. */
    private static String control(Path socket, String command) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ch.write(StandardCharsets.UTF_8.encode(command + "\n"));
            String line = new java.io.BufferedReader(new java.io.InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8)).readLine();
            return line == null ? "" : line;
        }
    }

    /** A `visor` CLI process with its console on pipes. */
    private record Child(Process process, StringBuffer out, OutputStream in) {
        static Child start(String classPath, String... args) throws IOException {
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "-Xss16m", "-cp", classPath, Main.class.getName()));
            cmd.addAll(List.of(args));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            StringBuffer out = new StringBuffer();
            Thread.ofPlatform().daemon().start(() -> {
                try (InputStream s = p.getInputStream()) {
                    byte[] b = new byte[4096];
                    int n;
                    while ((n = s.read(b)) > 0) out.append(new String(b, 0, n, StandardCharsets.UTF_8));
                } catch (IOException ignored) {
                    // the process ended
                }
            });
            return new Child(p, out, p.getOutputStream());
        }

        void type(String line) throws IOException {
            in.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            in.flush();
        }

        void waitFor(String text, int seconds) throws InterruptedException {
            long end = System.nanoTime() + seconds * 1_000_000_000L;
            while (out.indexOf(text) < 0) {
                if (System.nanoTime() > end || !process.isAlive()) throw new AssertionError("no '" + text + "' in:\n" + output());
                Thread.sleep(50);
            }
        }

        /** Types {@code line} and returns the first group of {@code pattern} in what it prints after. */
        String command(String line, String pattern) throws Exception {
            int from = out.length();
            type(line);
            Pattern p = Pattern.compile("^" + pattern + "\\r?$", Pattern.MULTILINE);
            long end = System.nanoTime() + 90_000_000_000L;
            while (true) {
                Matcher m = p.matcher(out.substring(from));
                if (m.find()) return m.group(1);
                if (System.nanoTime() > end || !process.isAlive()) throw new AssertionError("no " + pattern + " after '" + line + "' in:\n" + output());
                Thread.sleep(50);
            }
        }

        String output() {
            String s = out.toString();
            return s.length() > 3000 ? s.substring(s.length() - 3000) : s;
        }
    }
}
