package dev.visor.net.user;

import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;

import static dev.visor.net.user.Packets.*;

/**
 * One guest TCP connection relayed to a host socket: the guest-facing TCP endpoint (RFC 9293) plus
 * the non-blocking host channel. Selector thread only.
 *
 * <p>Implementation overview. Two byte rings carry the data:
 * <pre>
 *   guest --segments--> [toHost ring]   --write--> host socket     window we advertise = toHost.free()
 *   guest <--segments-- [fromHost ring] <--read--- host socket     ring = unacknowledged + unsent data
 *                        ^sndUna    ^sndNxt     ^end (sndUna + size)
 * </pre>
 * Receiving is in order only: a segment beyond rcvNxt is dropped and answered with a duplicate ACK so
 * the guest retransmits quickly. Sending respects the guest's (scaled) window and MSS; on a
 * retransmission timeout everything from sndUna is sent again (go-back-N; the RTO starts at 200 ms and
 * doubles), on three duplicate ACKs the first unacknowledged segment. ACKs for received data are
 * coalesced: {@link #flush} sends one per batch of guest frames. FIN in either direction is passed on
 * once all data before it has gone through; a connection with both FINs acknowledged lingers briefly
 * (TIME_WAIT) only to re-ACK a retransmitted FIN.
 */
final class TcpConnection {
    static final int FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10;
    /** Host connect in progress (guest sent SYN). */
    static final int CONNECTING = 0;
    /** We sent SYN to the guest (host forward) and wait for its SYN-ACK. */
    static final int SYN_SENT = 1;
    /** We answered the guest's SYN with SYN-ACK and wait for its ACK. */
    static final int SYN_RECEIVED = 2;
    static final int ESTABLISHED = 3;
    /** Both directions closed; kept only to re-ACK a retransmitted FIN. */
    static final int TIME_WAIT = 4;
    static final int CLOSED = 5;

    /** Our MSS: a 1500-byte MTU less IP and TCP headers. */
    static final int MSS = MTU - IP_HEADER - TCP_HEADER;
    private static final long RTO_MIN = 200_000_000L, RTO_MAX = 30_000_000_000L;
    private static final long TIME_WAIT_NANOS = 2_000_000_000L;
    /** Retransmissions of the same data before we give up and reset (about a minute and a half). */
    private static final int MAX_RETRIES = 8;
    private static final int MAX_SYN_RETRIES = 5;

    final long key;
    final int guestIp, guestPort, remoteIp, remotePort;
    final SocketChannel channel;
    SelectionKey selectionKey;
    private final TcpRelay relay;
    private final GuestLink link;
    int state;

    // Guest -> host.
    private int rcvNxt;
    private ByteRing toHost;
    /** Our window scale; the right edge rcvNxt + window we last advertised. */
    private final int rcvShift;
    private int advertisedRight;
    private boolean guestFin, hostOutputShut, ackPending;

    // Host -> guest.
    private final int iss;
    private int sndUna, sndNxt, sndMax, sndWnd, sndShift;
    /** Window scaling in use (both SYNs carried the option); offerScale: we put it in our SYN. */
    private boolean scaling, offerScale;
    private int mss = 536;
    private ByteRing fromHost;
    private boolean hostEof, finAcked;

    // Timer, on TcpRelay's clock; 0 when not armed.
    long deadline;
    private long rto = RTO_MIN;
    private int retries, dupAcks;
    /** After a fast retransmit: sndMax at that time; partial ACKs below it retransmit the next hole (RFC 6582). */
    private boolean recovering;
    private int recover;

    // TcpRelay's bookkeeping.
    boolean dirty, blocked;
    private int interestOps = -1;

    TcpConnection(TcpRelay relay, GuestLink link, long key, int guestIp, int guestPort, int remoteIp, int remotePort,
                  SocketChannel channel, ByteRing toHost, ByteRing fromHost, int iss, int rcvShift) {
        this.relay = relay;
        this.link = link;
        this.key = key;
        this.guestIp = guestIp;
        this.guestPort = guestPort;
        this.remoteIp = remoteIp;
        this.remotePort = remotePort;
        this.channel = channel;
        this.toHost = toHost;
        this.fromHost = fromHost;
        this.iss = iss;
        this.rcvShift = rcvShift;
        sndUna = sndNxt = sndMax = iss;
    }

    /** The guest's SYN opened this connection; we answer once the host connect succeeds. */
    void acceptSyn(int seq, int window, int options) {
        state = CONNECTING;
        rcvNxt = seq + 1;
        takeSynOptions(window, options);
        offerScale = scaling;
    }

    /** The host side of a forward accepted; we open the guest side with a SYN. */
    void connectToGuest() {
        state = SYN_SENT;
        offerScale = true;
        emit(SYN, iss, 0, 0);
        sndNxt = sndMax = iss + 1;
        arm();
    }

    /** The host connect finished (successfully or not). */
    void onConnectable() {
        try {
            if (!channel.finishConnect()) return;
        } catch (IOException e) {
            abort(true); // refused or unreachable: the guest gets RST
            return;
        }
        state = SYN_RECEIVED;
        emit(SYN | ACK, iss, 0, 0);
        sndNxt = sndMax = iss + 1;
        updateInterest();
        arm();
    }

    /** The host socket has data or its end. */
    void onReadable() {
        try {
            int r = 0;
            while (fromHost.free() > 0 && (r = fromHost.readFrom(channel)) > 0) { }
            if (r < 0) hostEof = true;
        } catch (IOException e) {
            abort(true);
            return;
        }
        relay.markDirty(this);
    }

    /**
     * A segment from the guest: {@code flags}, sequence and acknowledgement numbers, raw window;
     * options at [optOff, payOff), payload of {@code payLen} bytes at {@code payOff}.
     */
    void onSegment(byte[] f, int optOff, int payOff, int payLen, int flags, int seq, int ack, int window) {
        if ((flags & RST) != 0) {
            if (state == SYN_SENT ? (flags & ACK) != 0 && ack == sndNxt : inWindow(seq)) abort(false);
            return;
        }
        switch (state) {
            case SYN_SENT -> {
                if ((flags & (SYN | ACK)) == (SYN | ACK) && ack == iss + 1) {
                    rcvNxt = seq + 1;
                    takeSynOptions(window, parseOptions(f, optOff, payOff));
                    sndUna = iss + 1;
                    established();
                    emit(ACK, sndNxt, 0, 0);
                    relay.markDirty(this);
                } else if ((flags & ACK) != 0) {
                    relay.sendReset(guestIp, guestPort, remoteIp, remotePort, ack, 0, false);
                }
                return;
            }
            case SYN_RECEIVED -> {
                if ((flags & SYN) != 0) {
                    if (seq + 1 == rcvNxt) emit(SYN | ACK, iss, 0, 0); // our SYN-ACK was lost
                    return;
                }
                if ((flags & ACK) == 0) return;
                if (ack != iss + 1) {
                    relay.sendReset(guestIp, guestPort, remoteIp, remotePort, ack, 0, false);
                    return;
                }
                sndUna = iss + 1;
                established();
            }
            case ESTABLISHED -> { }
            case TIME_WAIT -> {
                if ((flags & FIN) != 0 || payLen > 0) emit(ACK, sndNxt, 0, 0);
                return;
            }
            default -> {
                return; // CONNECTING: the guest waits for our SYN-ACK
            }
        }
        if ((flags & SYN) != 0) {
            emit(ACK, sndNxt, 0, 0); // a SYN inside a synchronized connection: challenge ACK (RFC 5961)
            return;
        }
        if ((flags & ACK) == 0) return;
        if (!onAck(ack, window, payLen == 0 && (flags & FIN) == 0)) return;
        if (payLen > 0 || (flags & FIN) != 0) onData(f, payOff, payLen, seq, (flags & FIN) != 0);
        relay.markDirty(this);
    }

    /** Processes an acceptable ACK; false if the segment acknowledges data never sent (dropped). */
    private boolean onAck(int ack, int window, boolean pureAck) {
        int wnd = window << sndShift;
        int acked = ack - sndUna;
        if (ack - sndMax > 0) {
            emit(ACK, sndNxt, 0, 0);
            return false;
        }
        if (acked > 0) {
            if (ack - sndNxt > 0) sndNxt = ack;
            int data = Math.min(acked, fromHost.size());
            fromHost.discard(data);
            if (acked > data) finAcked = true;
            sndUna = ack;
            sndWnd = wnd;
            dupAcks = 0;
            retries = 0;
            rto = RTO_MIN;
            deadline = 0;
            if (recovering) {
                if (ack - recover >= 0) recovering = false;
                else retransmitFirst();
            }
            if (sndUna != sndMax && deadline == 0) arm();
        } else if (acked == 0) {
            if (pureAck && sndMax != sndUna && wnd == sndWnd && ++dupAcks == 3) fastRetransmit();
            sndWnd = wnd;
        }
        return true;
    }

    private void onData(byte[] f, int off, int len, int seq, boolean fin) {
        int skip = rcvNxt - seq;
        if (skip < 0 || guestFin || skip > len || (skip == len && !fin)) {
            emit(ACK, sndNxt, 0, 0); // out of order or a duplicate: drop it and tell the guest where we are
            return;
        }
        int fresh = len - skip;
        int take = Math.min(fresh, toHost.free());
        if (take > 0) {
            toHost.put(f, off + skip, take);
            rcvNxt += take;
        }
        if (fin && take == fresh) {
            guestFin = true;
            rcvNxt++;
        }
        ackPending = true;
    }

    /**
     * After a batch of guest frames or host events: writes guest data to the host, sends host data to
     * the guest, then the ACK or window update the guest still needs.
     */
    void flush() {
        if (state != ESTABLISHED) return;
        try {
            while (toHost.size() > 0 && toHost.writeTo(channel) > 0) { }
            if (guestFin && toHost.size() == 0 && !hostOutputShut) {
                channel.shutdownOutput();
                hostOutputShut = true;
            }
        } catch (IOException e) {
            abort(true);
            return;
        }
        pump();
        if (ackPending || windowOpened()) emit(ACK, sndNxt, 0, 0);
        if (guestFin && hostOutputShut && hostEof && finAcked) {
            enterTimeWait();
            return;
        }
        updateInterest();
    }

    /** Sends unsent host data (and then our FIN) as far as the guest's window and receive queue allow. */
    private void pump() {
        while (true) {
            int inFlight = sndNxt - sndUna;
            int unsent = fromHost.size() - inFlight;
            if (unsent > 0) {
                int room = sndWnd - inFlight;
                if (room <= 0) {
                    if (deadline == 0) arm(); // zero window: the timer sends a probe
                    return;
                }
                if (!link.canReceive()) {
                    relay.blocked(this);
                    return;
                }
                int len = Math.min(Math.min(unsent, mss), room);
                emit(len == unsent ? ACK | PSH : ACK, sndNxt, inFlight, len);
                advance(len);
            } else if (unsent == 0 && hostEof && !finAcked) {
                if (!link.canReceive()) {
                    relay.blocked(this);
                    return;
                }
                emit(FIN | ACK, sndNxt, 0, 0);
                advance(1);
                return;
            } else {
                return;
            }
        }
    }

    private void advance(int n) {
        sndNxt += n;
        if (sndNxt - sndMax > 0) sndMax = sndNxt;
        if (deadline == 0) arm();
    }

    private void fastRetransmit() {
        if (recovering) return;
        recovering = true;
        recover = sndMax;
        retransmitFirst();
    }

    /** Sends the first unacknowledged segment again (or our FIN, if that is all that is outstanding). */
    private void retransmitFirst() {
        int len = Math.min(Math.min(fromHost.size(), mss), sndMax - sndUna);
        if (len > 0) emit(ACK, sndUna, 0, len);
        else if (hostEof) emit(FIN | ACK, sndUna, 0, 0);
        arm();
    }

    /** The retransmission, persist and TIME_WAIT timer. */
    void onTimer(long now) {
        if (deadline == 0 || now < deadline) return;
        deadline = 0;
        switch (state) {
            case SYN_SENT, SYN_RECEIVED -> {
                if (++retries > MAX_SYN_RETRIES) {
                    abort(true);
                    return;
                }
                emit(state == SYN_SENT ? SYN : SYN | ACK, iss, 0, 0);
                rto = Math.min(rto * 2, RTO_MAX);
                arm();
            }
            case ESTABLISHED -> {
                boolean zeroWindow = sndWnd == 0 && fromHost.size() > 0;
                if (sndMax == sndUna && !zeroWindow) return;
                if (!zeroWindow && ++retries > MAX_RETRIES) {
                    abort(true);
                    return;
                }
                sndNxt = sndUna;
                dupAcks = 0;
                recovering = false;
                rto = Math.min(rto * 2, RTO_MAX);
                if (zeroWindow) {
                    if (link.canReceive()) {
                        emit(ACK, sndUna, 0, 1); // window probe: one byte past the window
                        advance(1);
                    }
                } else {
                    pump();
                }
                if (deadline == 0) arm();
            }
            case TIME_WAIT -> relay.remove(this);
            default -> { }
        }
    }

    /** Ends the connection at once: RST to the guest if asked, abortive close (RST) of the host socket. */
    void abort(boolean resetGuest) {
        if (state == CLOSED) return;
        if (resetGuest && state != TIME_WAIT) emit(RST | ACK, sndNxt, 0, 0);
        try {
            channel.setOption(StandardSocketOptions.SO_LINGER, 0);
        } catch (IOException | RuntimeException ignored) {
            // not connected: closing is enough
        }
        relay.remove(this);
    }

    /** Releases the host channel and buffers (called by the relay when it forgets the connection). */
    void release() {
        state = CLOSED;
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing left to do with it
        }
        if (toHost != null) relay.giveRing(toHost);
        if (fromHost != null) relay.giveRing(fromHost);
        toHost = fromHost = null;
    }

    private void enterTimeWait() {
        state = TIME_WAIT;
        try {
            channel.close();
        } catch (IOException ignored) {
            // both directions are done
        }
        relay.giveRing(toHost);
        relay.giveRing(fromHost);
        toHost = fromHost = null;
        deadline = relay.now() + TIME_WAIT_NANOS;
        relay.armTimer(this);
    }

    private void established() {
        state = ESTABLISHED;
        sndNxt = sndMax = sndUna;
        deadline = 0;
        retries = 0;
        rto = RTO_MIN;
        updateInterest();
    }

    private void arm() {
        deadline = relay.now() + rto;
        relay.armTimer(this);
    }

    private boolean inWindow(int seq) {
        int off = seq - rcvNxt;
        return off >= 0 && off <= Math.max(1, toHost == null ? 0 : toHost.free());
    }

    /** True when our window grew enough since the last advertisement that the guest should hear of it. */
    private boolean windowOpened() {
        int grown = rcvNxt + windowBytes(false) - advertisedRight;
        return grown >= toHost.capacity() / 4 || (advertisedRight - rcvNxt < 2 * MSS && grown >= 2 * MSS);
    }

    private int windowField(boolean syn) {
        int free = toHost == null ? 0 : toHost.free();
        return Math.min(syn || !scaling ? free : free >>> rcvShift, 0xffff);
    }

    private int windowBytes(boolean syn) {
        int w = windowField(syn);
        return syn || !scaling ? w : w << rcvShift;
    }

    private void takeSynOptions(int window, int options) {
        int peerMss = options & 0xffff;
        mss = Math.min(peerMss == 0 ? 536 : Math.max(peerMss, 64), MSS);
        int scale = options >>> 16;
        scaling = scale != 0;
        sndShift = scaling ? Math.min(scale - 1, 14) : 0;
        sndWnd = window; // never scaled in a SYN
    }

    /** MSS in the low 16 bits, window scale + 1 above (0: no option) from the options at [off, end). */
    static int parseOptions(byte[] f, int off, int end) {
        int mssOption = 0, scale = 0;
        for (int i = off; i < end; ) {
            int kind = u8(f, i);
            if (kind == 0) break;
            if (kind == 1) { i++; continue; }
            if (i + 1 >= end) break;
            int len = u8(f, i + 1);
            if (len < 2 || i + len > end) break;
            if (kind == 2 && len == 4) mssOption = u16(f, i + 2);
            else if (kind == 3 && len == 3) scale = u8(f, i + 2) + 1;
            i += len;
        }
        return scale << 16 | mssOption;
    }

    /** Builds and sends one segment; {@code len} payload bytes start {@code ringOffset} after sndUna in fromHost. */
    private void emit(int flags, int seq, int ringOffset, int len) {
        byte[] o = link.out;
        int t = L4;
        boolean syn = (flags & SYN) != 0;
        int header = syn ? TCP_HEADER + (offerScale ? 8 : 4) : TCP_HEADER;
        int window = (flags & RST) != 0 ? 0 : windowField(syn);
        put16(o, t, remotePort);
        put16(o, t + 2, guestPort);
        put32(o, t + 4, seq);
        put32(o, t + 8, (flags & ACK) != 0 ? rcvNxt : 0);
        o[t + 12] = (byte) (header << 2);
        o[t + 13] = (byte) flags;
        put16(o, t + 14, window);
        put32(o, t + 16, 0); // checksum, urgent pointer
        if (syn) {
            o[t + 20] = 2;
            o[t + 21] = 4;
            put16(o, t + 22, MSS);
            if (offerScale) {
                o[t + 24] = 1;
                o[t + 25] = 3;
                o[t + 26] = 3;
                o[t + 27] = (byte) rcvShift;
            }
        }
        if (len > 0) fromHost.copyOut(ringOffset, o, t + header, len);
        int length = header + len;
        long sum = Checksums.add(Checksums.pseudoHeader(remoteIp, guestIp, PROTO_TCP, length), o, t, length);
        put16(o, t + 16, Checksums.finish(sum));
        if ((flags & ACK) != 0) {
            advertisedRight = rcvNxt + (syn || !scaling ? window : window << rcvShift);
            ackPending = false;
        }
        link.sendIpv4(link.guestMac, PROTO_TCP, remoteIp, guestIp, length);
    }

    private void updateInterest() {
        int ops = 0;
        if (state == CONNECTING) {
            ops = SelectionKey.OP_CONNECT;
        } else if (state == ESTABLISHED) {
            if (!hostEof && fromHost.free() > 0) ops |= SelectionKey.OP_READ;
            if (toHost.size() > 0) ops |= SelectionKey.OP_WRITE;
        }
        if (ops != interestOps && selectionKey != null && selectionKey.isValid()) {
            selectionKey.interestOps(ops);
            interestOps = ops;
        }
    }
}
