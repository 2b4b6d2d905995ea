package dev.visor.net.user;

import java.io.ByteArrayOutputStream;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A minimal TCP endpoint for the {@link FakeGuest}: handshake (either side), sending within the
 * peer's window with go-back-N retransmission, in-order receiving with an ACK per segment, FIN.
 * It checks that the backend never sends beyond the window we advertised. Test thread only.
 */
final class GuestTcp {
    static final int FIN = 1, SYN = 2, RST = 4, PSH = 8, ACK = 16;
    private static final byte[] NONE = new byte[0];
    private static final int OUR_SHIFT = 7;

    private final FakeGuest guest;
    final int localPort, remoteIp;
    int remotePort;
    private int iss, sndUna, sndNxt, rcvNxt, peerWindow, peerShift, peerMss = 536;
    /** Our receive buffer size: the window we advertise. */
    int receiveWindow = 256 * 1024;
    private int advertisedRight;
    final ByteArrayOutputStream in = new ByteArrayOutputStream();
    boolean peerFin, reset;
    private boolean finSent;
    private byte[] out = NONE;
    private int outSeq;
    /** Simulated loss: every Nth data segment we receive or send vanishes (0: none). */
    int dropIncomingEvery, dropOutgoingEvery;
    private int incomingCount, outgoingCount;

    GuestTcp(FakeGuest guest, int localPort, int remoteIp, int remotePort) {
        this.guest = guest;
        this.localPort = localPort;
        this.remoteIp = remoteIp;
        this.remotePort = remotePort;
    }

    /** Active open; false when the backend answered RST. */
    boolean connect(long millis) throws InterruptedException {
        iss = ThreadLocalRandom.current().nextInt();
        send(SYN, iss, 0, synOptions(), NONE);
        FakeGuest.Tcp s = guest.await(f -> {
            FakeGuest.Tcp t = FakeGuest.parseTcp(f);
            return t != null && mine(t) && (t.has(RST) || t.has(SYN)) ? t : null;
        }, millis);
        if (s == null) fail("no answer to SYN");
        if (s.has(RST)) {
            assertTrue(s.has(ACK) && s.ack() == iss + 1, "RST acknowledges our SYN");
            reset = true;
            return false;
        }
        assertTrue(s.has(ACK) && s.ack() == iss + 1, "SYN-ACK acknowledges our SYN");
        takeSyn(s);
        sndUna = sndNxt = iss + 1;
        outSeq = sndUna;
        send(ACK, sndNxt, rcvNxt, NONE, NONE);
        return true;
    }

    /** Passive open: waits for the backend's SYN to {@code port} and answers it. */
    static GuestTcp accept(FakeGuest guest, int port, long millis) throws InterruptedException {
        FakeGuest.Tcp s = guest.await(f -> {
            FakeGuest.Tcp t = FakeGuest.parseTcp(f);
            return t != null && t.dstPort() == port && t.has(SYN) && !t.has(ACK) ? t : null;
        }, millis);
        if (s == null) fail("no SYN for guest port " + port);
        GuestTcp c = new GuestTcp(guest, port, s.src(), s.srcPort());
        c.iss = ThreadLocalRandom.current().nextInt();
        c.takeSyn(s);
        c.send(SYN | ACK, c.iss, c.rcvNxt, synOptions(), NONE);
        c.sndUna = c.iss;
        c.sndNxt = c.iss + 1;
        long end = System.nanoTime() + millis * 1_000_000;
        while (c.sndUna != c.sndNxt && System.nanoTime() < end) c.poll(10);
        assertTrue(c.sndUna == c.sndNxt, "our SYN-ACK was acknowledged");
        c.outSeq = c.sndUna;
        return c;
    }

    /** Sends all of {@code data} and waits until it is acknowledged. */
    void write(byte[] data, long millis) throws InterruptedException {
        out = data;
        outSeq = sndUna;
        long end = System.nanoTime() + millis * 1_000_000;
        long lastProgress = System.nanoTime();
        int lastUna = sndUna;
        while (sndUna - outSeq < data.length) {
            if (System.nanoTime() > end) fail("write timed out at " + (sndUna - outSeq) + " of " + data.length);
            if (reset) fail("connection reset during write");
            while (true) {
                int off = sndNxt - outSeq;
                int room = peerWindow - (sndNxt - sndUna);
                int len = Math.min(Math.min(data.length - off, peerMss), room);
                if (len <= 0) break;
                byte[] seg = new byte[len];
                System.arraycopy(data, off, seg, 0, len);
                if (dropOutgoingEvery == 0 || ++outgoingCount % dropOutgoingEvery != 0) send(ACK | PSH, sndNxt, rcvNxt, NONE, seg);
                sndNxt += len;
            }
            poll(1);
            if (sndUna != lastUna) {
                lastUna = sndUna;
                lastProgress = System.nanoTime();
            } else if (System.nanoTime() - lastProgress > 300_000_000L) {
                sndNxt = sndUna; // go back N
                lastProgress = System.nanoTime();
                if (peerWindow == 0) peerWindow = 1; // probe
            }
        }
    }

    /** Receives until {@code n} bytes have arrived (or the peer's FIN). */
    byte[] read(int n, long millis) throws InterruptedException {
        long end = System.nanoTime() + millis * 1_000_000;
        while (in.size() < n && !peerFin && !reset && System.nanoTime() < end) poll(10);
        return in.toByteArray();
    }

    /** Sends our FIN and waits for its ACK. */
    void close(long millis) throws InterruptedException {
        send(FIN | ACK, sndNxt, rcvNxt, NONE, NONE);
        finSent = true;
        sndNxt++;
        long end = System.nanoTime() + millis * 1_000_000;
        while (sndUna != sndNxt && !reset && System.nanoTime() < end) poll(10);
        assertTrue(sndUna == sndNxt, "our FIN was acknowledged");
    }

    /** The next sequence number we expect (what we acknowledge). */
    int ackNumber() {
        return rcvNxt;
    }

    /** The window scale the peer announced. */
    int peerShift() {
        return peerShift;
    }

    /** Our next sequence number. */
    int sequence() {
        return sndNxt;
    }

    /** Waits for the peer's FIN. */
    boolean awaitFin(long millis) throws InterruptedException {
        long end = System.nanoTime() + millis * 1_000_000;
        while (!peerFin && !reset && System.nanoTime() < end) poll(10);
        return peerFin;
    }

    /** Handles at most one frame, waiting up to {@code millis}. */
    void poll(long millis) throws InterruptedException {
        byte[] f = guest.received.poll(millis, TimeUnit.MILLISECONDS);
        if (f == null) return;
        FakeGuest.Tcp s = FakeGuest.parseTcp(f);
        if (s == null || !mine(s)) return;
        if (s.has(RST)) {
            reset = true;
            return;
        }
        if (s.has(ACK) && s.ack() - sndUna > 0 && s.ack() - sndNxt <= 0) sndUna = s.ack();
        if (s.has(ACK) && s.ack() - sndUna >= 0) peerWindow = s.window() << peerShift;
        int len = s.payload().length;
        if (len > 0 && dropIncomingEvery != 0 && ++incomingCount % dropIncomingEvery == 0) return;
        if (len > 0 || s.has(FIN)) {
            int end = s.seq() + len + (s.has(FIN) ? 1 : 0);
            assertTrue(s.seq() + len - advertisedRight <= 0, "backend sent beyond our advertised window");
            if (s.seq() == rcvNxt && !peerFin) {
                in.write(s.payload(), 0, len);
                rcvNxt = end;
                if (s.has(FIN)) peerFin = true;
            }
            send(ACK, sndNxt, rcvNxt, NONE, NONE);
        }
    }

    private boolean mine(FakeGuest.Tcp t) {
        return t.src() == remoteIp && t.srcPort() == remotePort && t.dstPort() == localPort && t.dst() == FakeGuest.IP;
    }

    private void takeSyn(FakeGuest.Tcp s) {
        rcvNxt = s.seq() + 1;
        byte[] o = s.options();
        boolean scale = false;
        for (int i = 0; i < o.length; ) {
            int kind = o[i] & 0xff;
            if (kind == 0) break;
            if (kind == 1) { i++; continue; }
            int len = o[i + 1] & 0xff;
            if (kind == 2) peerMss = FakeGuest.u16(o, i + 2);
            if (kind == 3) {
                peerShift = o[i + 2] & 0xff;
                scale = true;
            }
            i += len;
        }
        assertTrue(scale, "the backend negotiates window scaling");
        assertTrue(peerMss == 1460, "MSS 1460, was " + peerMss);
        peerWindow = s.window();
    }

    private static byte[] synOptions() {
        return new byte[] {2, 4, (byte) (1460 >> 8), (byte) (1460 & 0xff), 1, 3, 3, OUR_SHIFT};
    }

    private void send(int flags, int seq, int ack, byte[] options, byte[] payload) {
        boolean syn = (flags & SYN) != 0;
        int window = syn ? Math.min(receiveWindow, 65535) : Math.min(receiveWindow >> OUR_SHIFT, 65535);
        if ((flags & ACK) != 0) advertisedRight = ack + (syn ? window : window << OUR_SHIFT);
        guest.send(guest.tcp(localPort, remoteIp, remotePort, seq, ack, flags, window, options, payload));
    }
}
