package dev.visor.net.user;

import dev.visor.net.GuestPort;
import dev.visor.net.NetBackend;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

import static dev.visor.net.user.Packets.*;

/**
 * User-mode NAT, the role of QEMU's {@code -netdev user}: the guest sees a small network with a
 * gateway (which is also a DHCP server and answers ping), a DNS server answering through the host's
 * resolver, and a route to everything the host can reach; its TCP connections and UDP datagrams become
 * ordinary host sockets, so no privileges are needed. The gateway address means the host itself
 * (127.0.0.1). Host forwards ({@code hostfwd}) let host clients connect into the guest.
 *
 * <pre>
 *   UserNetwork net = new UserNetwork(UserNetworkConfig.parse("hostfwd=tcp::8022-:22"));
 *   net.start(guestPort);   // binds the forwards (IOException if a port is taken), starts the thread
 *   net.send(frame);        // from the device thread
 *   net.close();
 * </pre>
 *
 * <p>Threads. All protocol state lives on one platform thread, "visor-net-user", which runs a
 * {@link Selector} over every host socket. {@link #send} only copies the frame into a preallocated
 * {@link FrameQueue} slot and wakes that thread (a full queue drops the frame, as a busy NIC would);
 * {@link #guestReceiveReady} only sets a flag. The selector thread is the only caller of
 * {@link GuestPort#receive}. DNS lookups block, so they run on virtual threads that hand their answers
 * back through a queue. Nothing is shared otherwise, so there are no locks besides the queue's.
 *
 * <p>Not supported: IPv6, IP fragments (dropped), ICMP to hosts other than the gateway, TCP to the
 * DNS address, TCP urgent data and options besides MSS and window scale (no SACK, no timestamps).
 */
public final class UserNetwork implements NetBackend {
    /** The gateway's MAC address, 52:55 followed by the default gateway address, as QEMU's. */
    static final long GATEWAY_MAC = 0x5255_0a00_0202L;
    /** Guest frames waiting for the selector thread: about 1.5 MiB, more than a full TCP window of segments. */
    private static final int QUEUE_FRAMES = 1024;
    /** Guest frames handled before the selector looks at host sockets again. */
    private static final int BATCH = 256;
    /** How often to retry sending to a guest that has not reported new receive buffers. */
    private static final long BLOCKED_POLL_NANOS = 10_000_000L;

    private final UserNetworkConfig config;
    private final int gatewayIp, dnsIp, netIp, netmask;
    private final FrameQueue frames = new FrameQueue(QUEUE_FRAMES, MAX_FRAME);
    /** True while the selector thread is (about to be) blocked in select: senders must wake it. */
    private final AtomicBoolean sleeping = new AtomicBoolean();
    private final AtomicBoolean guestReady = new AtomicBoolean();
    private volatile boolean running;
    private Selector selector;
    private Thread thread;

    // Selector thread only, from start on.
    private GuestLink link;
    private ArpResponder arp;
    private DhcpServer dhcp;
    private DnsResolver dns;
    private IcmpResponder icmp;
    private TcpRelay tcp;
    private UdpRelay udp;
    private final Consumer<SelectionKey> onKey = this::onKey;
    private long now;
    /** Exceptions caught on the selector thread (bugs, not bad input): tests expect none. */
    volatile long internalErrors;
    /** TCP connections (including TIME_WAIT) as of the selector's last round, for tests and statistics. */
    private volatile int tcpConnections;

    public UserNetwork(UserNetworkConfig config) {
        this.config = Objects.requireNonNull(config, "config");
        gatewayIp = UserNetworkConfig.toInt(config.gateway());
        dnsIp = UserNetworkConfig.toInt(config.dns());
        netIp = UserNetworkConfig.toInt(config.network());
        netmask = UserNetworkConfig.mask(config.prefixLength());
    }

    @Override
    public void start(GuestPort guest) throws IOException {
        Objects.requireNonNull(guest, "guest");
        if (thread != null) throw new IllegalStateException("already started");
        selector = Selector.open();
        link = new GuestLink(guest, GATEWAY_MAC);
        arp = new ArpResponder(link, gatewayIp, dnsIp);
        dhcp = new DhcpServer(link, gatewayIp, dnsIp, UserNetworkConfig.toInt(config.dhcpStart()), netmask);
        dns = new DnsResolver(link, dnsIp, this::wake);
        icmp = new IcmpResponder(link);
        tcp = new TcpRelay(selector, link, gatewayIp, netIp, netmask);
        udp = new UdpRelay(selector, link, gatewayIp, netIp, netmask);
        try {
            for (HostForward f : config.forwards()) {
                if (f.protocol() == HostForward.Protocol.TCP) tcp.listen(f);
                else udp.listen(f);
            }
        } catch (IOException e) {
            tcp.close();
            udp.close();
            selector.close();
            throw e;
        }
        running = true;
        thread = Thread.ofPlatform().name("visor-net-user").daemon().start(this::run);
    }

    @Override
    public void send(ByteBuffer frame) {
        if (running && frames.offer(frame)) wake();
    }

    @Override
    public void guestReceiveReady() {
        guestReady.set(true);
        wake();
    }

    @Override
    public void close() throws IOException {
        if (thread == null || !running) return;
        running = false;
        selector.wakeup();
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** TCP connections, including those lingering in TIME_WAIT (approximate: from the selector thread's last round). */
    int tcpConnectionCount() {
        return tcpConnections;
    }

    private void wake() {
        if (sleeping.get() && sleeping.compareAndSet(true, false)) selector.wakeup();
    }

    private void run() {
        try {
            while (running) {
                now = tcp.now();
                sleeping.set(true);
                if (!frames.isEmpty() || guestReady.get()) {
                    sleeping.set(false);
                    selector.selectNow(onKey);
                } else {
                    selector.select(onKey, timeoutMillis());
                    sleeping.set(false);
                }
                now = tcp.now();
                try {
                    for (int i = 0; i < BATCH && !frames.isEmpty(); i++) {
                        try {
                            onFrame(frames.peek(), frames.peekLength());
                        } finally {
                            frames.release();
                        }
                    }
                    dns.deliverAnswers();
                    if (guestReady.getAndSet(false) || (tcp.hasBlocked() && link.canReceive())) tcp.guestReady();
                    tcp.flushDirty();
                    tcp.runTimers(now);
                    udp.expire(now);
                    tcp.flushDirty();
                } catch (RuntimeException e) {
                    internalErrors++; // a bug (or a throwing GuestPort): keep serving the other connections
                }
                if (tcpConnections != tcp.connectionCount()) tcpConnections = tcp.connectionCount();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("user network selector failed", e);
        } finally {
            running = false;
            tcp.close();
            udp.close();
            try {
                selector.close();
            } catch (IOException ignored) {
                // shutting down
            }
        }
    }

    private long timeoutMillis() {
        long wait = Math.min(tcp.nextTimer(), now + 1_000_000_000L) - now;
        if (tcp.hasBlocked()) wait = Math.min(wait, BLOCKED_POLL_NANOS);
        return Math.max(1, (wait + 999_999) / 1_000_000);
    }

    private void onKey(SelectionKey key) {
        try {
            switch (key.attachment()) {
                case TcpConnection c -> tcp.onKey(key, c);
                case UdpRelay.Flow f -> udp.onReadable(f, now);
                case UdpRelay.Forward f -> udp.onReadable(f, now);
                case HostForward f -> tcp.accept(key, f);
                default -> { }
            }
        } catch (RuntimeException e) {
            // a bug must not stop the network for every connection; the key's owner recovers by timeout
            internalErrors++;
            key.cancel();
        }
    }

    /** Handles one frame from the guest; anything malformed or unsupported is dropped. */
    private void onFrame(byte[] f, int length) {
        try {
            if (length < ETH_HEADER) return;
            long srcMac = mac(f, 6);
            if ((srcMac & 0x0100_0000_0000L) != 0) return; // a multicast source address is invalid
            int type = u16(f, 12);
            if (type == ETHERTYPE_ARP) {
                if (arp.onFrame(f, length) != 0) link.guestMac = srcMac;
            } else if (type == ETHERTYPE_IPV4) {
                onIpv4(f, length, srcMac);
            }
        } catch (RuntimeException e) {
            // cannot happen for well-bounded parsing; drop the frame rather than the thread
            internalErrors++;
        }
    }

    private void onIpv4(byte[] f, int length, long srcMac) {
        if (length < IP + IP_HEADER) return;
        int versionIhl = u8(f, IP);
        int ihl = (versionIhl & 0xf) * 4;
        if (versionIhl >>> 4 != 4 || ihl < IP_HEADER) return;
        int total = u16(f, IP + 2);
        if (total < ihl || IP + total > length) return;
        if ((u16(f, IP + 6) & 0x3fff) != 0) return; // a fragment (MF or offset): not reassembled
        if (!Checksums.valid(Checksums.add(0, f, IP, ihl))) return;
        int protocol = u8(f, IP + 9);
        int src = i32(f, IP + 12), dst = i32(f, IP + 16);
        int l4 = IP + ihl, l4Length = total - ihl;
        if (protocol == PROTO_UDP) {
            onUdp(f, l4, l4Length, src, dst, srcMac);
            return;
        }
        if ((src & netmask) != netIp) return;
        link.guestMac = srcMac;
        if (protocol == PROTO_TCP) tcp.onSegment(f, l4, l4Length, src, dst);
        else if (protocol == PROTO_ICMP && (dst == gatewayIp || dst == dnsIp)) icmp.onMessage(f, l4, l4Length, src, dst);
    }

    private void onUdp(byte[] f, int off, int length, int src, int dst, long srcMac) {
        if (length < UDP_HEADER) return;
        int udpLength = u16(f, off + 4);
        if (udpLength < UDP_HEADER || udpLength > length) return;
        if (u16(f, off + 6) != 0 && !Checksums.valid(Checksums.add(Checksums.pseudoHeader(src, dst, PROTO_UDP, udpLength), f, off, udpLength))) return;
        int srcPort = u16(f, off), dstPort = u16(f, off + 2);
        int payload = off + UDP_HEADER, payloadLength = udpLength - UDP_HEADER;
        if (dstPort == DhcpServer.SERVER_PORT && (dst == -1 || dst == gatewayIp)) {
            link.guestMac = srcMac;
            dhcp.onMessage(f, payload, payloadLength);
            return;
        }
        if ((src & netmask) != netIp || srcPort == 0) return;
        link.guestMac = srcMac;
        if (dst == dnsIp) {
            if (dstPort == DnsResolver.PORT) dns.onQuery(f, payload, payloadLength, src, srcPort);
            return;
        }
        udp.onDatagram(f, payload, payloadLength, src, srcPort, dst, dstPort, now);
    }
}
