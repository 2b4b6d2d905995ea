package dev.visor.net.user;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static dev.visor.net.user.Packets.*;

/**
 * The guest's TCP connections: demultiplexes guest segments to {@link TcpConnection}s (opening one,
 * with a host connect, for each SYN), accepts host-forward connections, and runs the connections'
 * flushes and timers. Connections are keyed by (guest port, remote address, remote port) as the guest
 * sees them. Selector thread only.
 */
final class TcpRelay {
    /** Cap on connections: each may hold two {@link #RING_SIZE} buffers. */
    static final int MAX_CONNECTIONS = 256;
    /** Per-direction buffer per connection; also our largest receive window. */
    static final int RING_SIZE = 256 * 1024;
    /** Our window scale: the smallest that lets the 16-bit window field cover a whole ring. */
    static final int RCV_SHIFT = Math.max(0, 32 - Integer.numberOfLeadingZeros((RING_SIZE - 1) >>> 16));
    /** Rings kept for reuse after connections close (direct memory is slow to allocate and free). */
    private static final int RING_POOL = 16;
    /** When checking TCP checksums of guest segments; off only if the device offers checksum offload. */
    static final boolean VERIFY_CHECKSUMS = true;
    private static final int EPHEMERAL_FIRST = 49152;

    private final Selector selector;
    private final GuestLink link;
    private final int gatewayIp, netIp, netmask;
    private final LongMap<TcpConnection> connections = new LongMap<>(64);
    private final ArrayDeque<TcpConnection> dirty = new ArrayDeque<>();
    private final List<TcpConnection> blocked = new ArrayList<>();
    private final ArrayDeque<ByteRing> ringPool = new ArrayDeque<>();
    private final List<ServerSocketChannel> listeners = new ArrayList<>();
    private final SplittableRandom random = new SplittableRandom();
    private final long epoch = System.nanoTime();
    /** Earliest armed connection deadline (a lower bound), Long.MAX_VALUE when none. */
    private long nextTimer = Long.MAX_VALUE;
    private int nextEphemeral = EPHEMERAL_FIRST;

    TcpRelay(Selector selector, GuestLink link, int gatewayIp, int netIp, int netmask) {
        this.selector = selector;
        this.link = link;
        this.gatewayIp = gatewayIp;
        this.netIp = netIp;
        this.netmask = netmask;
    }

    /** Nanoseconds on the relay's clock (positive, monotonic). */
    long now() { return System.nanoTime() - epoch + 1; }

    int connectionCount() { return connections.size(); }

    /** Listens for a TCP host forward; its key's attachment is the forward. */
    void listen(HostForward forward) throws IOException {
        ServerSocketChannel server = ServerSocketChannel.open();
        try {
            server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            server.bind(new InetSocketAddress(forward.hostAddress(), forward.hostPort()));
            server.configureBlocking(false);
            server.register(selector, SelectionKey.OP_ACCEPT, forward);
        } catch (IOException e) {
            server.close();
            throw new IOException("hostfwd=" + forward + ": cannot listen on " + forward.hostAddress().getHostAddress()
                    + ":" + forward.hostPort() + " (" + e.getMessage() + ")", e);
        }
        listeners.add(server);
    }

    /** A host client connected to a forwarded port: open the connection to the guest. */
    void accept(SelectionKey key, HostForward forward) {
        SocketChannel ch;
        try {
            ch = ((ServerSocketChannel) key.channel()).accept();
        } catch (IOException e) {
            return;
        }
        if (ch == null) return;
        int guestIp = UserNetworkConfig.toInt(forward.guestAddress());
        try {
            if (connections.size() >= MAX_CONNECTIONS) throw new IOException("too many connections");
            ch.configureBlocking(false);
            ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
            int port = ephemeralPort(forward.guestPort());
            long k = key(forward.guestPort(), gatewayIp, port);
            TcpConnection c = new TcpConnection(this, link, k, guestIp, forward.guestPort(), gatewayIp, port, ch,
                    takeRing(), takeRing(), random.nextInt(), RCV_SHIFT);
            c.selectionKey = ch.register(selector, 0, c);
            connections.put(k, c);
            c.connectToGuest();
        } catch (IOException e) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // already failing
            }
        }
    }

    /** A TCP segment from the guest: {@code length} bytes at {@code off}, from src to dst. */
    void onSegment(byte[] f, int off, int length, int src, int dst) {
        if (length < TCP_HEADER) return;
        int header = (u8(f, off + 12) >>> 4) * 4;
        if (header < TCP_HEADER || header > length) return;
        if (VERIFY_CHECKSUMS && !Checksums.valid(Checksums.add(Checksums.pseudoHeader(src, dst, PROTO_TCP, length), f, off, length))) return;
        int srcPort = u16(f, off), dstPort = u16(f, off + 2);
        if (srcPort == 0 || dstPort == 0) return;
        int seq = i32(f, off + 4), ack = i32(f, off + 8);
        int flags = u8(f, off + 13);
        int window = u16(f, off + 14);
        int payLen = length - header;
        long k = key(srcPort, dst, dstPort);
        TcpConnection c = connections.get(k);
        if (c != null && c.state == TcpConnection.TIME_WAIT && (flags & (TcpConnection.SYN | TcpConnection.ACK)) == TcpConnection.SYN) {
            remove(c); // the port is being reused
            c = null;
        }
        if (c == null) {
            if ((flags & TcpConnection.RST) != 0) return;
            if ((flags & (TcpConnection.SYN | TcpConnection.ACK | TcpConnection.FIN)) == TcpConnection.SYN) {
                open(k, src, srcPort, dst, dstPort, seq, window, TcpConnection.parseOptions(f, off + TCP_HEADER, off + header));
            } else {
                resetFor(src, srcPort, dst, dstPort, flags, seq, ack, payLen);
            }
            return;
        }
        c.onSegment(f, off + TCP_HEADER, off + header, payLen, flags, seq, ack, window);
    }

    private void open(long k, int src, int srcPort, int dst, int dstPort, int seq, int window, int options) {
        boolean local = (dst & netmask) == netIp;
        boolean unroutable = dst == 0 || (dst >>> 28) >= 14 || (dst >>> 24) == 127 || (local && dst != gatewayIp);
        if (unroutable || connections.size() >= MAX_CONNECTIONS) { // includes the DNS address: no TCP service there
            sendReset(src, srcPort, dst, dstPort, 0, seq + 1, true);
            return;
        }
        SocketChannel ch = null;
        try {
            InetAddress target = dst == gatewayIp ? InetAddress.getByAddress(new byte[] {127, 0, 0, 1}) : UserNetworkConfig.fromInt(dst);
            ch = SocketChannel.open();
            ch.configureBlocking(false);
            ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
            TcpConnection c = new TcpConnection(this, link, k, src, srcPort, dst, dstPort, ch, takeRing(), takeRing(),
                    random.nextInt(), RCV_SHIFT);
            c.acceptSyn(seq, window, options);
            connections.put(k, c);
            c.selectionKey = ch.register(selector, SelectionKey.OP_CONNECT, c);
            if (ch.connect(new InetSocketAddress(target, dstPort))) c.onConnectable();
        } catch (IOException | RuntimeException e) {
            TcpConnection c = connections.get(k);
            if (c != null) remove(c);
            else if (ch != null) {
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // failing anyway
                }
            }
            sendReset(src, srcPort, dst, dstPort, 0, seq + 1, true);
        }
    }

    /** RFC 9293 §3.10.7.1: the answer to a segment for no connection. */
    private void resetFor(int src, int srcPort, int dst, int dstPort, int flags, int seq, int ack, int payLen) {
        if ((flags & TcpConnection.ACK) != 0) {
            sendReset(src, srcPort, dst, dstPort, ack, 0, false);
        } else {
            int len = payLen + ((flags & TcpConnection.SYN) != 0 ? 1 : 0) + ((flags & TcpConnection.FIN) != 0 ? 1 : 0);
            sendReset(src, srcPort, dst, dstPort, 0, seq + len, true);
        }
    }

    /** Sends RST (with ACK of {@code ack} if {@code withAck}) from dst:dstPort to the guest's src:srcPort. */
    void sendReset(int guestIp, int guestPort, int remoteIp, int remotePort, int seq, int ack, boolean withAck) {
        byte[] o = link.out;
        put16(o, L4, remotePort);
        put16(o, L4 + 2, guestPort);
        put32(o, L4 + 4, seq);
        put32(o, L4 + 8, withAck ? ack : 0);
        o[L4 + 12] = (byte) (TCP_HEADER << 2);
        o[L4 + 13] = (byte) (TcpConnection.RST | (withAck ? TcpConnection.ACK : 0));
        put16(o, L4 + 14, 0);
        put32(o, L4 + 16, 0);
        put16(o, L4 + 16, Checksums.finish(Checksums.add(Checksums.pseudoHeader(remoteIp, guestIp, PROTO_TCP, TCP_HEADER), o, L4, TCP_HEADER)));
        link.sendIpv4(link.guestMac, PROTO_TCP, remoteIp, guestIp, TCP_HEADER);
    }

    /** A host channel of a connection is ready. */
    void onKey(SelectionKey key, TcpConnection c) {
        if (!key.isValid() || c.state == TcpConnection.CLOSED) return;
        int ready = key.readyOps();
        if ((ready & SelectionKey.OP_CONNECT) != 0) c.onConnectable();
        if (c.state == TcpConnection.CLOSED) return;
        if ((ready & SelectionKey.OP_READ) != 0) c.onReadable();
        if ((ready & SelectionKey.OP_WRITE) != 0) markDirty(c);
    }

    void markDirty(TcpConnection c) {
        if (!c.dirty) {
            c.dirty = true;
            dirty.add(c);
        }
    }

    /** Flushes every connection touched since the last call. */
    void flushDirty() {
        for (TcpConnection c; (c = dirty.poll()) != null; ) {
            c.dirty = false;
            if (c.state != TcpConnection.CLOSED) c.flush();
        }
    }

    /** The connection could not send because the guest had no receive buffers. */
    void blocked(TcpConnection c) {
        if (!c.blocked) {
            c.blocked = true;
            blocked.add(c);
        }
    }

    boolean hasBlocked() { return !blocked.isEmpty(); }

    /** The guest can take frames again: let blocked connections send. */
    void guestReady() {
        for (TcpConnection c : blocked) {
            c.blocked = false;
            markDirty(c);
        }
        blocked.clear();
    }

    void armTimer(TcpConnection c) {
        if (c.deadline < nextTimer) nextTimer = c.deadline;
    }

    /** Earliest time {@link #runTimers} has work, Long.MAX_VALUE for none. */
    long nextTimer() { return nextTimer; }

    void runTimers(long now) {
        if (now < nextTimer) return;
        nextTimer = Long.MAX_VALUE;
        connections.forEachSnapshot(c -> {
            c.onTimer(now);
            if (c.state != TcpConnection.CLOSED && c.deadline != 0 && c.deadline < nextTimer) nextTimer = c.deadline;
        });
    }

    /** Forgets a connection and frees its channel and buffers. */
    void remove(TcpConnection c) {
        if (connections.get(c.key) == c) connections.remove(c.key);
        c.release();
    }

    ByteRing takeRing() {
        ByteRing r = ringPool.poll();
        return r != null ? r : new ByteRing(RING_SIZE);
    }

    void giveRing(ByteRing r) {
        r.clear();
        if (ringPool.size() < RING_POOL) ringPool.add(r);
    }

    /** Closes all connections (with RST to both sides) and listeners. */
    void close() {
        connections.forEachSnapshot(c -> c.abort(true));
        for (ServerSocketChannel s : listeners) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    private int ephemeralPort(int guestPort) {
        for (int i = 0; i < 65536 - EPHEMERAL_FIRST; i++) {
            int p = nextEphemeral;
            nextEphemeral = p == 65535 ? EPHEMERAL_FIRST : p + 1;
            if (connections.get(key(guestPort, gatewayIp, p)) == null) return p;
        }
        throw new IllegalStateException("no free port"); // cannot happen below MAX_CONNECTIONS
    }

    static long key(int guestPort, int remoteIp, int remotePort) {
        return (long) guestPort << 48 | (remoteIp & 0xffffffffL) << 16 | remotePort;
    }
}
