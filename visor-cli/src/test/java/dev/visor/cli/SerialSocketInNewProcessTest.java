package dev.visor.cli;

import dev.visor.images.InitramfsBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A VMM as a host daemon starts it: {@code visor run} in a process of its own with stdin from
 * /dev/null and stdout to a file, its console on --serial-socket (two clients at once) and in
 * --serial-log, stopped with {@code quit} on the control socket, its status in --exit-status-file;
 * then restored from a snapshot the same way.
 */
class SerialSocketInNewProcessTest {
    @TempDir
    Path dir;

    /** A console client: what it received, collected by a thread of its own. */
    private static final class Client implements AutoCloseable {
        final SocketChannel channel;
        final StringBuffer out = new StringBuffer();

        Client(Path socket) throws IOException {
            channel = connect(socket);
            Thread.ofPlatform().daemon().start(() -> {
                ByteBuffer b = ByteBuffer.allocate(4096);
                try {
                    while (channel.read(b.clear()) > 0) out.append(new String(b.array(), 0, b.position(), StandardCharsets.UTF_8));
                } catch (IOException ignored) {
                    // the VMM went away
                }
            });
        }

        /**
         * Connects as a patient client does: the socket file appears when the VMM binds it, a moment
         * before it listens, so a refusal right then is retried for a little while.
         */
        private static SocketChannel connect(Path socket) throws IOException {
            for (int attempt = 1; ; attempt++) {
                SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
                try {
                    c.connect(UnixDomainSocketAddress.of(socket));
                    return c;
                } catch (java.net.ConnectException e) {
                    c.close();
                    if (attempt == 20) throw e;
                    try {
                        Thread.sleep(50);
                    } catch (InterruptedException interrupted) {
                        Thread.currentThread().interrupt();
                        throw e;
                    }
                }
            }
        }

        void type(String line) throws IOException {
            channel.write(StandardCharsets.UTF_8.encode(line + "\n"));
        }

        @Override
        public void close() throws IOException { channel.close(); }
    }

    @Test
    void aDetachedVmServesItsConsoleOnASocketQuitsWhenAskedAndIsRestoredTheSameWay() throws Exception {
        Path image = Path.of(System.getProperty("user.home"), ".cache", "visor", "images", "default", "Image");
        assumeTrue(System.getenv("VISOR_CACHE") == null && Files.exists(image), "no default image in the cache");
        Path serial = dir.resolve("console.sock"), log = dir.resolve("console.log"), control = dir.resolve("control.sock"),
                exit = dir.resolve("exit-status"), stdout = dir.resolve("vmm.out"), snapshot = dir.resolve("snap");
        Files.writeString(exit, "99\n"); // a stale status from an earlier run: removed at the start

        Process vmm = start(List.of("run", "--memory", "256M", "--net", "none", "--serial-socket", serial.toString(),
                "--serial-log", log.toString(), "--control", control.toString(), "--exit-status-file", exit.toString()), stdout);
        try {
            await(() -> Files.exists(serial) || !vmm.isAlive(), 60, "the serial socket", stdout);
            assertTrue(vmm.isAlive(), () -> "the VMM exited with " + vmm.exitValue() + ":\n" + read(stdout));
            assertFalse(Files.exists(exit), "the stale exit status is removed when the VMM starts");
            // the VMM binds the socket, then makes it 0600: the file appears a moment before (as 0755 minus
            // umask, which gives no one else the write permission a connect needs)
            await(() -> "rw-------".equals(permissions(serial)), 10, "the serial socket to be made 0600", stdout);
            assertEquals("rw-------", permissions(serial));
            try (Client first = new Client(serial); Client second = new Client(serial)) {
                await(() -> first.out.indexOf(InitramfsBuilder.READY_MARKER) >= 0, 180, "the shell on the first client", stdout);
                await(() -> second.out.indexOf(InitramfsBuilder.READY_MARKER) >= 0, 10, "the shell on the second client", stdout);
                first.type("echo $((6*7))");
                Pattern answer = Pattern.compile("^42\\r?$", Pattern.MULTILINE);
                await(() -> answer.matcher(first.out).find(), 60, "42 on the first client", stdout);
                await(() -> answer.matcher(second.out).find(), 10, "42 on the second client", stdout);
                await(() -> answer.matcher(read(log)).find(), 10, "42 in the serial log", stdout);
                assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(log)));
                assertFalse(read(stdout).contains(InitramfsBuilder.READY_MARKER), "console output goes to the socket, not stdout");

                Map<String, String> stats = fields(control(control, "stats"));
                assertTrue(Long.parseLong(stats.get("instret")) > 0, stats.toString());
                assertTrue(Long.parseLong(stats.get("vcpu_ns")) > 0, stats.toString());
                assertEquals(String.valueOf(256L << 20), stats.get("memory"));
                assertEquals("running", stats.get("state"));

                first.type("echo saved > /tmp/mark; echo MARKED");
                Pattern marked = Pattern.compile("^MARKED\\r?$", Pattern.MULTILINE);
                await(() -> marked.matcher(first.out).find(), 60, "the mark written", stdout);
                assertTrue(control(control, "snapshot " + snapshot).startsWith("ok "), "the snapshot for the second part");
                assertEquals("ok stopping", control(control, "quit"));
                assertTrue(vmm.waitFor(60, TimeUnit.SECONDS), "the VMM did not exit after quit:\n" + read(stdout));
            }
            assertEquals(0, vmm.exitValue(), read(stdout));
            assertEquals("0\n", Files.readString(exit));
            assertFalse(Files.exists(serial), "the serial socket is removed");
        } finally {
            vmm.destroyForcibly();
            vmm.waitFor(30, TimeUnit.SECONDS);
        }

        // the same guest restored in a new VMM: its console on a socket again, the log goes on
        Process restored = start(List.of("run", "--restore", snapshot.toString(), "--net", "none", "--serial-socket", serial.toString(),
                "--serial-log", log.toString(), "--control", control.toString(), "--exit-status-file", exit.toString()), stdout);
        try {
            await(() -> Files.exists(serial) || !restored.isAlive(), 60, "the restored VM's serial socket", stdout);
            assertTrue(restored.isAlive(), () -> "the restored VMM exited with " + restored.exitValue() + ":\n" + read(stdout));
            try (Client client = new Client(serial)) {
                client.type("echo $(cat /tmp/mark) $((6*8))");
                Pattern answer = Pattern.compile("^saved 48\\r?$", Pattern.MULTILINE);
                await(() -> answer.matcher(client.out).find(), 60, "the restored guest's answer", stdout);
                await(() -> answer.matcher(read(log)).find(), 10, "the answer in the serial log", stdout);
                assertTrue(read(log).contains(InitramfsBuilder.READY_MARKER), "the log keeps the first run's output");
                client.type("poweroff -f");
                assertTrue(restored.waitFor(60, TimeUnit.SECONDS), "the restored VM did not power off:\n" + read(stdout));
            }
            assertEquals(0, restored.exitValue(), read(stdout));
            assertEquals("0\n", Files.readString(exit));
        } finally {
            restored.destroyForcibly();
            restored.waitFor(30, TimeUnit.SECONDS);
        }
    }

    /** {@code visor run args} in a process of its own, as the daemon starts it. */
    private static Process start(List<String> args, Path stdout) throws IOException {
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Xss16m", "-cp", classPath, Main.class.getName()));
        cmd.addAll(args);
        return new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(stdout.toFile())).start();
    }

    private static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    private static String permissions(Path p) {
        try {
            return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
        } catch (IOException e) {
            return e.toString();
        }
    }

    private static void await(BooleanSupplier condition, int seconds, String what, Path stdout) throws InterruptedException {
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) throw new AssertionError("timed out waiting for " + what + "; the VMM's output:\n" + read(stdout));
            Thread.sleep(50);
        }
    }

    private static Map<String, String> fields(String answer) {
        assertTrue(answer.startsWith("ok "), answer);
        Map<String, String> m = new HashMap<>();
        for (String kv : answer.substring(3).split(" ")) {
            String[] p = kv.split("=", 2);
            m.put(p[0], p.length > 1 ? p[1] : "");
        }
        return m;
    }

    /** One command over the VM's control socket. */
    private static String control(Path socket, String command) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ch.write(StandardCharsets.UTF_8.encode(command + "\n"));
            String line = new java.io.BufferedReader(new java.io.InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8)).readLine();
            return line == null ? "" : line;
        }
    }
}
