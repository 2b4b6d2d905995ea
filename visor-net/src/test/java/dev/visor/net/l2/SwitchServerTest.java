package dev.visor.net.l2;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

import static dev.visor.net.l2.Frames.BROADCAST;
import static dev.visor.net.l2.Frames.frame;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Three VMs' ports (A, B, C) on one switch. "X got nothing else" is checked with a barrier: a
 * broadcast sent by another port after the frame under test was seen, so anything the switch queued
 * for X before it arrives first (each port's queue and stream are FIFO).
 */
class SwitchServerTest {
    private static final long TIMEOUT_MS = 5000;
    private static final int BARRIER = 0xba77;
    private static final long MAC_A = 0x0200_0000_000aL;
    private static final long MAC_B = 0x0200_0000_000bL;
    private static final long MAC_C = 0x0200_0000_000cL;
    private static final long MAC_UNKNOWN = 0x0200_0000_00eeL;

    /** One VM on the switch. */
    private record Node(String name, SwitchPort port, FakeGuest guest, long mac) {
        void send(long dst, int tag, int seq) {
            port.send(frame(dst, mac, tag, seq));
        }

        /** The next frame; fails if none comes. */
        byte[] next() throws InterruptedException {
            byte[] f = guest.next(TIMEOUT_MS);
            assertNotNull(f, name + " received nothing");
            return f;
        }
    }

    @TempDir
    Path dir;
    private Path sock;
    private SwitchServer sw;
    private final List<Node> nodes = new ArrayList<>();
    private final List<AutoCloseable> toClose = new ArrayList<>();
    private int barriers;
    private Node a;
    private Node b;
    private Node c;

    @BeforeEach
    void setUp() throws Exception {
        sock = dir.resolve("sw.sock");
        sw = SwitchServer.start(sock);
        a = join("A", MAC_A);
        b = join("B", MAC_B);
        c = join("C", MAC_C);
        await(() -> sw.stats().ports() == 3, "3 ports");
    }

    @AfterEach
    void tearDown() throws Exception {
        for (AutoCloseable x : toClose.reversed()) {
            x.close();
        }
        sw.close();
        assertFalse(Files.exists(sock), "socket file removed on close");
    }

    private Node join(String name, long mac) throws IOException {
        SwitchPort port = SwitchPort.connect(sock);
        toClose.add(port);
        FakeGuest guest = new FakeGuest();
        port.start(guest);
        Node n = new Node(name, port, guest, mac);
        nodes.add(n);
        return n;
    }

    /** Asserts that no node but {@code via} has frames before a broadcast barrier sent by {@code via}. */
    private void nothingElseArrived(Node via) throws InterruptedException {
        int id = ++barriers;
        via.send(BROADCAST, BARRIER, id);
        for (Node n : nodes) {
            if (n == via) {
                continue;
            }
            List<String> extra = new ArrayList<>();
            for (;;) {
                byte[] f = n.next();
                if (Frames.tag(f) == BARRIER && Frames.seq(f) == id) {
                    break;
                }
                if (extra.size() < 10) {
                    extra.add("tag " + Integer.toHexString(Frames.tag(f)) + " from " + Long.toHexString(Frames.src(f)));
                } else {
                    extra.set(9, "...");
                }
            }
            assertTrue(extra.isEmpty(), n.name + " got unexpected frames: " + extra);
        }
        assertEquals(0, via.guest.pending(), via.name + " got a frame back");
    }

    private void assertFrame(Node at, long src, int tag) throws InterruptedException {
        byte[] f = at.next();
        assertEquals(Long.toHexString(src), Long.toHexString(Frames.src(f)), at.name + ": source MAC");
        assertEquals(tag, Frames.tag(f), at.name + ": tag");
    }

    private static void await(BooleanSupplier cond, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TIMEOUT_MS * 1_000_000;
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out waiting for " + what);
            }
            Thread.sleep(5);
        }
    }

    @Test
    void broadcastReachesEveryOtherPortButNotTheSender() throws Exception {
        a.send(BROADCAST, 1, 0);
        assertFrame(b, MAC_A, 1);
        assertFrame(c, MAC_A, 1);
        nothingElseArrived(b); // A did not get its own frame back
        assertTrue(sw.stats().flooded() >= 1);
    }

    @Test
    void unicastToALearnedAddressReachesOnlyThatPort() throws Exception {
        b.send(BROADCAST, 2, 0); // the switch learns B
        assertFrame(a, MAC_B, 2);
        assertFrame(c, MAC_B, 2);
        long forwarded = sw.stats().forwarded();
        a.send(MAC_B, 3, 0);
        assertFrame(b, MAC_A, 3);
        nothingElseArrived(b); // C did not get it
        assertEquals(forwarded + 1, sw.stats().forwarded());
    }

    @Test
    void unknownUnicastFloods() throws Exception {
        a.send(MAC_UNKNOWN, 4, 0);
        assertFrame(b, MAC_A, 4);
        assertFrame(c, MAC_A, 4);
        nothingElseArrived(c);
    }

    @Test
    void aDisconnectedPortIsForgotten() throws Exception {
        b.send(BROADCAST, 5, 0);
        assertFrame(a, MAC_B, 5);
        assertFrame(c, MAC_B, 5);
        int macs = sw.stats().macs();
        b.port.close();
        nodes.remove(b);
        await(() -> sw.stats().ports() == 2, "B to be gone");
        assertEquals(macs - 1, sw.stats().macs(), "B's address forgotten");
        a.send(MAC_B, 6, 0); // B's address is unknown again, so this floods to C
        assertFrame(c, MAC_A, 6);
        nothingElseArrived(c);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 13, 65551, -1})
    void aClientSendingAGarbageLengthIsDisconnectedAndOthersCarryOn(int length) throws Exception {
        try (SocketChannel bad = SocketChannel.open(UnixDomainSocketAddress.of(sock))) {
            await(() -> sw.stats().ports() == 4, "the bad client's port");
            bad.write(ByteBuffer.allocate(4).putInt(0, length));
            bad.configureBlocking(false);
            ByteBuffer sink = ByteBuffer.allocate(4096);
            long deadline = System.nanoTime() + TIMEOUT_MS * 1_000_000;
            while (bad.read(sink.clear()) >= 0) {
                assertTrue(System.nanoTime() < deadline, "the switch should have disconnected the bad client");
                Thread.sleep(5);
            }
        }
        await(() -> sw.stats().ports() == 3, "the bad client's port to go");
        assertEquals(1, sw.stats().badFrames());
        a.send(BROADCAST, 7, 0);
        assertFrame(b, MAC_A, 7);
        assertFrame(c, MAC_A, 7);
        nothingElseArrived(b);
    }

    @Test
    void aSecondSwitchOnALivePathIsRefused() throws Exception {
        IOException e = assertThrows(IOException.class, () -> SwitchServer.start(sock));
        assertEquals("a switch is already running at " + sock + ": stop it or choose another path", e.getMessage());
        Node d = join("D", 0x0200_0000_000dL); // the first switch is untouched
        d.send(BROADCAST, 8, 0);
        assertFrame(a, 0x0200_0000_000dL, 8);
    }

    @Test
    void aStaleSocketFileIsReplacedAndAPlainFileIsNot() throws Exception {
        Path stale = dir.resolve("stale.sock");
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            dead.bind(UnixDomainSocketAddress.of(stale));
        }
        assertTrue(Files.exists(stale), "closing a Unix server socket leaves its file behind");
        try (SwitchServer sw2 = SwitchServer.start(stale);
             SwitchPort p = SwitchPort.connect(stale);
             SwitchPort q = SwitchPort.connect(stale)) {
            FakeGuest gq = new FakeGuest();
            p.start(new FakeGuest());
            q.start(gq);
            await(() -> sw2.stats().ports() == 2, "2 ports on the new switch");
            p.send(frame(BROADCAST, MAC_A, 9, 0));
            byte[] f = gq.next(TIMEOUT_MS);
            assertNotNull(f);
            assertEquals(9, Frames.tag(f));
        }
        assertFalse(Files.exists(stale));

        Path plain = Files.writeString(dir.resolve("notes.txt"), "not a socket");
        IOException e = assertThrows(IOException.class, () -> SwitchServer.start(plain));
        assertTrue(e.getMessage().contains("is not a socket"), e.getMessage());
        assertTrue(Files.exists(plain), "a plain file is never deleted");
    }

    @Test
    void connectingWhereNoSwitchListensSaysHowToStartOne() throws Exception {
        Path none = dir.resolve("none.sock");
        IOException e = assertThrows(IOException.class, () -> SwitchPort.connect(none));
        assertEquals("no switch at " + none + ": start one with `visor switch " + none + "`", e.getMessage());
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            dead.bind(UnixDomainSocketAddress.of(none));
        }
        e = assertThrows(IOException.class, () -> SwitchPort.connect(none)); // stale file: refused
        assertEquals("no switch at " + none + ": start one with `visor switch " + none + "`", e.getMessage());
    }

    /** 100k frames with at most WINDOW in flight: fewer than any queue holds, so none may be lost or reordered. */
    @Test
    void manySmallFramesArriveInOrderWithoutLoss() throws Exception {
        final int count = 100_000;
        final int window = 256; // < SwitchPort.TX_QUEUE_FRAMES, and 256 * 64 bytes < SwitchServer.QUEUE_BYTES
        b.send(BROADCAST, 10, 0);
        assertFrame(a, MAC_B, 10);
        assertFrame(c, MAC_B, 10);
        int sent = 0;
        for (int received = 0; received < count; received++) {
            while (sent < count && sent - received < window) {
                a.send(MAC_B, 11, sent++);
            }
            byte[] f = b.next();
            assertEquals(11, Frames.tag(f));
            assertEquals(received, Frames.seq(f), "frame order");
        }
        nothingElseArrived(b);
        assertEquals(0, a.port.txDropped());
        assertEquals(0, sw.stats().dropped());
        assertTrue(sw.stats().forwarded() >= count);
    }

    /**
     * A client that never reads: its queue overflows and its frames are dropped and counted, while
     * frames to B, interleaved with them on A's connection, all arrive.
     */
    @Test
    void aPortThatNeverReadsLosesFramesButStallsNobody() throws Exception {
        final long macS = 0x0200_0000_005aL;
        final int toB = 1000;
        final int perB = 10;    // frames to S between two frames to B: 10 MB for S, far beyond its socket buffer and queue
        final int window = 16;  // frames to B in flight: 16 * 11 frames < SwitchPort.TX_QUEUE_FRAMES
        try (SocketChannel stuck = SocketChannel.open(UnixDomainSocketAddress.of(sock))) {
            ByteBuffer hello = ByteBuffer.allocate(64).putInt(60).put(frame(BROADCAST, macS, 12, 0)).flip();
            stuck.write(hello);
            assertFrame(a, macS, 12);
            assertFrame(b, macS, 12);
            assertFrame(c, macS, 12);
            b.send(BROADCAST, 15, 0); // the switch learns B
            assertFrame(a, MAC_B, 15);
            assertFrame(c, MAC_B, 15);
            int sent = 0;
            for (int received = 0; received < toB; received++) {
                while (sent < toB && sent - received < window) {
                    for (int i = 0; i < perB; i++) {
                        a.port.send(frame(macS, MAC_A, 13, sent * perB + i, 1000));
                    }
                    a.send(MAC_B, 14, sent++);
                }
                byte[] f = b.next();
                assertEquals(14, Frames.tag(f));
                assertEquals(received, Frames.seq(f), "frame order");
            }
            nothingElseArrived(b);
            assertEquals(0, a.port.txDropped());
            assertTrue(sw.stats().dropped() > 0, "frames to the stuck port were dropped: " + sw.stats());
            assertEquals(4, sw.stats().ports(), "the stuck port is slow, not bad: still connected");
        }
    }
}
