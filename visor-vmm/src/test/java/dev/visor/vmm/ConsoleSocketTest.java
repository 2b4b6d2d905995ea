package dev.visor.vmm;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** --serial-socket without a guest: the fan-out to clients, their input, a stuck client, the socket file. */
class ConsoleSocketTest {
    @TempDir
    Path dir;

    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : toClose.reversed()) c.close();
    }

    /** A connected client whose received bytes a thread of its own collects (unless it is stuck). */
    private final class Client {
        final SocketChannel channel;
        final ByteArrayOutputStream received = new ByteArrayOutputStream();
        volatile boolean eof;

        Client(Path path, boolean reads) throws IOException {
            channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            channel.connect(UnixDomainSocketAddress.of(path));
            toClose.add(channel);
            if (reads) Thread.ofPlatform().daemon().start(this::readAll);
        }

        void readAll() {
            ByteBuffer b = ByteBuffer.allocate(8192);
            try {
                while (channel.read(b.clear()) >= 0) {
                    synchronized (received) { received.write(b.array(), 0, b.position()); }
                }
            } catch (IOException e) {
                // closed by the test
            }
            eof = true;
        }

        int count() { synchronized (received) { return received.size(); } }

        String text() { synchronized (received) { return received.toString(StandardCharsets.US_ASCII); } }

        void send(String s) throws IOException { channel.write(StandardCharsets.US_ASCII.encode(s)); }
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long end = System.nanoTime() + 10_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) throw new AssertionError("timed out waiting for " + what);
            Thread.sleep(5);
        }
    }

    private static void write(ConsoleSocket s, String text) {
        byte[] b = text.getBytes(StandardCharsets.US_ASCII);
        s.write(b, 0, b.length);
    }

    @Test
    void everyClientSeesOutputFromWhenItConnectsAndAnyClientTypes() throws Exception {
        Path path = dir.resolve("console.sock");
        ConsoleSocket s = ConsoleSocket.open(path);
        toClose.add(s);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(path)));
        ByteArrayOutputStream typed = new ByteArrayOutputStream();
        s.attach((b, off, len) -> { synchronized (typed) { typed.write(b, off, len); } });

        Client first = new Client(path, true);
        await(() -> s.clientCount() == 1, "the first client");
        write(s, "boot\n");
        Client second = new Client(path, true);
        await(() -> s.clientCount() == 2, "the second client");
        write(s, "login: ");
        s.write('#');
        await(() -> first.text().equals("boot\nlogin: #"), "the first client's output, got '" + first.text() + "'");
        await(() -> second.text().equals("login: #"), "the second client's output, got '" + second.text() + "'");

        first.send("echo a\n");
        await(() -> { synchronized (typed) { return typed.toString(StandardCharsets.US_ASCII).equals("echo a\n"); } }, "the first client's input");
        second.send("echo b\n");
        await(() -> { synchronized (typed) { return typed.toString(StandardCharsets.US_ASCII).equals("echo a\necho b\n"); } }, "the second client's input");

        write(s, "bye\n");
        s.close();
        await(() -> first.eof && second.eof, "both clients to see the end");
        assertEquals("boot\nlogin: #bye\n", first.text(), "what was buffered at close was delivered");
        assertFalse(Files.exists(path), "the socket file is removed");
    }

    @Test
    void whatAClientSendsBeforeTheVmIsAttachedWaitsForIt() throws Exception {
        Path path = dir.resolve("early.sock");
        ConsoleSocket s = ConsoleSocket.open(path);
        toClose.add(s);
        Client early = new Client(path, true);
        early.send("typed at once\n");
        await(() -> s.clientCount() == 1, "the client");
        Thread.sleep(50);
        ByteArrayOutputStream typed = new ByteArrayOutputStream();
        s.attach((b, off, len) -> { synchronized (typed) { typed.write(b, off, len); } });
        await(() -> { synchronized (typed) { return typed.toString(StandardCharsets.US_ASCII).equals("typed at once\n"); } }, "the early input");
    }

    @Test
    void aClientThatStopsReadingIsDisconnectedAndNeitherTheConsoleNorOtherClientsWait() throws Exception {
        Path path = dir.resolve("slow.sock");
        int buffer = 256 << 10;
        ConsoleSocket s = ConsoleSocket.open(path, buffer);
        toClose.add(s);
        Client reader = new Client(path, true);
        Client stuck = new Client(path, false);
        await(() -> s.clientCount() == 2, "two clients");

        byte[] chunk = new byte[4096];
        ByteArrayOutputStream sent = new ByteArrayOutputStream();
        long writeNanos = 0;
        int total = 0;
        // far more than the stuck client's buffer plus what the kernel holds for its socket
        for (int i = 0; total < (16 << 20); i++) {
            for (int k = 0; k < chunk.length; k++) chunk[k] = (byte) (i * 31 + k);
            int before = total;
            // the reader keeps up: never more than an eighth of its buffer behind (plus what is in flight)
            await(() -> reader.count() >= before - buffer / 8, "the reading client to keep up");
            long t0 = System.nanoTime();
            s.write(chunk, 0, chunk.length);
            writeNanos += System.nanoTime() - t0;
            sent.write(chunk);
            total += chunk.length;
        }
        assertTrue(writeNanos < 2_000_000_000L, "writing 16 MiB to the console took " + writeNanos / 1_000_000 + " ms: it waited for a client");
        await(() -> s.clientCount() == 1, "the stuck client to be disconnected");

        // the stuck client, reading at last, gets what was buffered for it and then the end
        ByteBuffer b = ByteBuffer.allocate(1 << 16);
        long got = 0;
        int n;
        while ((n = stuck.channel.read(b.clear())) >= 0) got += n;
        assertTrue(got < total, "the stuck client got " + got + " of " + total + " bytes");

        int expected = total;
        await(() -> reader.count() == expected, "everything at the reading client");
        synchronized (reader.received) { assertArrayEquals(sent.toByteArray(), reader.received.toByteArray()); }
        assertFalse(reader.eof, "the reading client stays connected");
    }

    @Test
    void aStaleSocketFileIsReplacedButALiveSocketOrAnotherFileIsNot() throws Exception {
        Path path = dir.resolve("stale.sock");
        try (ServerSocketChannel old = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            old.bind(UnixDomainSocketAddress.of(path)); // a VMM that ended leaves the file behind
        }
        assertTrue(Files.exists(path));
        ConsoleSocket s = ConsoleSocket.open(path);
        toClose.add(s);
        new Client(path, true);
        await(() -> s.clientCount() == 1, "a client on the replaced socket");

        IOException live = assertThrows(IOException.class, () -> ConsoleSocket.open(path));
        assertEquals("--serial-socket " + path + ": in use (another VM's console?)", live.getMessage());

        Path file = Files.writeString(dir.resolve("notes.txt"), "keep me");
        IOException notSocket = assertThrows(IOException.class, () -> ConsoleSocket.open(file));
        assertEquals("--serial-socket " + file + ": exists and is not a socket", notSocket.getMessage());
        assertEquals("keep me", Files.readString(file));
    }
}
