package dev.visor.net.user;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static dev.visor.net.user.Packets.*;

/**
 * UDP between the guest and the host's network. A datagram from the guest opens (or reuses) a flow
 * for its (guest port, remote address, remote port): a host {@link DatagramChannel} connected to the
 * remote (the gateway address means the host's 127.0.0.1), whose replies go back to the guest. A UDP
 * host forward's channel is shared; each host client there becomes a flow whose remote is the gateway
 * address with a port of its own. Flows idle for {@link #IDLE_NANOS} are closed. Datagrams that do
 * not fit one frame (no IP fragmentation) are dropped. Selector thread only.
 */
final class UdpRelay {
    /** Cap on flows, each a host socket. */
    static final int MAX_FLOWS = 256;
    private static final long IDLE_NANOS = 60_000_000_000L;
    private static final int MAX_PAYLOAD = MTU - IP_HEADER - UDP_HEADER;
    private static final int EPHEMERAL_FIRST = 49152;

    /** One guest UDP conversation: its host channel and, for a forward's client, where replies go. */
    static final class Flow {
        final long key;
        final int guestIp, guestPort, remoteIp, remotePort;
        final DatagramChannel channel;
        /** The host client of a forward; null for a flow the guest started (channel is connected). */
        final SocketAddress client;
        long lastUsed;

        Flow(long key, int guestIp, int guestPort, int remoteIp, int remotePort, DatagramChannel channel, SocketAddress client) {
            this.key = key;
            this.guestIp = guestIp;
            this.guestPort = guestPort;
            this.remoteIp = remoteIp;
            this.remotePort = remotePort;
            this.channel = channel;
            this.client = client;
        }
    }

    /** A UDP host forward's listening channel; the attachment of its selection key. */
    static final class Forward {
        final HostForward rule;
        final DatagramChannel channel;
        final Map<SocketAddress, Flow> clients = new HashMap<>();

        Forward(HostForward rule, DatagramChannel channel) {
            this.rule = rule;
            this.channel = channel;
        }
    }

    private final Selector selector;
    private final GuestLink link;
    private final int gatewayIp, netIp, netmask;
    private final LongMap<Flow> flows = new LongMap<>(64);
    private final List<Forward> forwards = new ArrayList<>();
    /** Staging for datagrams both ways (direct: no hidden copy in the channel). */
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(65536);
    private int nextEphemeral = EPHEMERAL_FIRST;
    private long lastExpiry;

    UdpRelay(Selector selector, GuestLink link, int gatewayIp, int netIp, int netmask) {
        this.selector = selector;
        this.link = link;
        this.gatewayIp = gatewayIp;
        this.netIp = netIp;
        this.netmask = netmask;
    }

    int flowCount() { return flows.size(); }

    void listen(HostForward rule) throws IOException {
        DatagramChannel ch = DatagramChannel.open();
        try {
            ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            ch.bind(new InetSocketAddress(rule.hostAddress(), rule.hostPort()));
            ch.configureBlocking(false);
            Forward f = new Forward(rule, ch);
            ch.register(selector, SelectionKey.OP_READ, f);
            forwards.add(f);
        } catch (IOException e) {
            ch.close();
            throw new IOException("hostfwd=" + rule + ": cannot listen on " + rule.hostAddress().getHostAddress()
                    + ":" + rule.hostPort() + " (" + e.getMessage() + ")", e);
        }
    }

    /** A datagram from the guest: {@code length} payload bytes at {@code off}. */
    void onDatagram(byte[] f, int off, int length, int src, int srcPort, int dst, int dstPort, long now) {
        long k = TcpRelay.key(srcPort, dst, dstPort);
        Flow flow = flows.get(k);
        if (flow == null) {
            boolean local = (dst & netmask) == netIp;
            if (dst == 0 || (dst >>> 28) >= 14 || (dst >>> 24) == 127 || (local && dst != gatewayIp)) return;
            if (flows.size() >= MAX_FLOWS) return;
            flow = open(k, src, srcPort, dst, dstPort);
            if (flow == null) return;
        }
        flow.lastUsed = now;
        buffer.clear();
        buffer.put(0, f, off, length).limit(length);
        try {
            if (flow.client == null) flow.channel.write(buffer);
            else flow.channel.send(buffer, flow.client);
        } catch (IOException e) {
            // e.g. ICMP port unreachable from an earlier datagram: like the network, drop it
        }
    }

    private Flow open(long k, int src, int srcPort, int dst, int dstPort) {
        DatagramChannel ch = null;
        try {
            InetAddress target = dst == gatewayIp ? InetAddress.getByAddress(new byte[] {127, 0, 0, 1}) : UserNetworkConfig.fromInt(dst);
            ch = DatagramChannel.open();
            ch.configureBlocking(false);
            ch.connect(new InetSocketAddress(target, dstPort));
            Flow flow = new Flow(k, src, srcPort, dst, dstPort, ch, null);
            ch.register(selector, SelectionKey.OP_READ, flow);
            flows.put(k, flow);
            return flow;
        } catch (IOException | RuntimeException e) {
            if (ch != null) {
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // failing anyway
                }
            }
            return null;
        }
    }

    /** A flow's host channel has datagrams. */
    void onReadable(Flow flow, long now) {
        try {
            while (true) {
                buffer.clear();
                int n = flow.channel.read(buffer);
                if (n <= 0) return;
                flow.lastUsed = now;
                toGuest(flow, n);
            }
        } catch (IOException e) {
            // ICMP errors surface here on connected channels; the flow stays until it idles out
        }
    }

    /** A UDP forward's channel has datagrams from host clients. */
    void onReadable(Forward fw, long now) {
        try {
            while (true) {
                buffer.clear();
                SocketAddress from = fw.channel.receive(buffer);
                if (from == null) return;
                Flow flow = fw.clients.get(from);
                if (flow == null || flows.get(flow.key) != flow) {
                    if (flows.size() >= MAX_FLOWS) continue;
                    int guestPort = fw.rule.guestPort();
                    int port = ephemeralPort(guestPort);
                    flow = new Flow(TcpRelay.key(guestPort, gatewayIp, port), UserNetworkConfig.toInt(fw.rule.guestAddress()),
                            guestPort, gatewayIp, port, fw.channel, from);
                    flows.put(flow.key, flow);
                    fw.clients.put(from, flow);
                }
                flow.lastUsed = now;
                toGuest(flow, buffer.position());
            }
        } catch (IOException e) {
            // a failed receive on an unconnected channel: nothing to undo
        }
    }

    private void toGuest(Flow flow, int n) {
        if (n > MAX_PAYLOAD) return;
        buffer.get(0, link.out, UDP_PAYLOAD, n);
        link.sendUdp(link.guestMac, flow.remoteIp, flow.remotePort, flow.guestIp, flow.guestPort, n);
    }

    /** Closes flows idle for longer than {@link #IDLE_NANOS}; cheap to call often. */
    void expire(long now) {
        if (now - lastExpiry < 1_000_000_000L) return;
        lastExpiry = now;
        flows.forEachSnapshot(flow -> {
            if (now - flow.lastUsed > IDLE_NANOS) remove(flow);
        });
    }

    private void remove(Flow flow) {
        flows.remove(flow.key);
        if (flow.client == null) {
            try {
                flow.channel.close();
            } catch (IOException ignored) {
                // forgetting it anyway
            }
        } else {
            for (Forward fw : forwards) fw.clients.remove(flow.client, flow);
        }
    }

    void close() {
        flows.forEachSnapshot(this::remove);
        for (Forward fw : forwards) {
            try {
                fw.channel.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    private int ephemeralPort(int guestPort) {
        for (int i = 0; i < 65536 - EPHEMERAL_FIRST; i++) {
            int p = nextEphemeral;
            nextEphemeral = p == 65535 ? EPHEMERAL_FIRST : p + 1;
            if (flows.get(TcpRelay.key(guestPort, gatewayIp, p)) == null) return p;
        }
        throw new IllegalStateException("no free port"); // cannot happen below MAX_FLOWS
    }
}
