package dev.visor.net.user;

import dev.visor.net.GuestPort;
import dev.visor.net.NetBackend;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;

import static dev.visor.net.user.Packets.*;

/**
 * A DHCP server on an Ethernet segment other than the NAT's, e.g. a {@code visor switch}: it joins
 * the segment like a VM would (through a {@link NetBackend}, usually a switch port) and leases each
 * client MAC its own address from the network, so VMs on the switch come up with addresses and
 * reach each other with no set-up. It offers no router and no DNS: the switch is an isolated
 * segment. Leases last for the life of the service.
 *
 * <p>Threading: frames arrive on the backend's reader thread, which alone runs the server.
 */
public final class DhcpService implements Closeable {
    private static final int FIRST_HOST = 10;

    private final NetBackend segment;
    private final int network, netmask, serverIp;
    private final Map<Long, Integer> leases = new HashMap<>();
    private final DhcpServer server;
    private final byte[] in = new byte[MAX_FRAME];

    private DhcpService(NetBackend segment, int network, int prefix) {
        this.segment = segment;
        this.netmask = UserNetworkConfig.mask(prefix);
        this.network = network & netmask;
        this.serverIp = this.network + 1;
        GuestLink link = new GuestLink(new GuestPort() {
            @Override public boolean receive(ByteBuffer frame) {
                segment.send(frame);
                return true;
            }

            @Override public boolean canReceive() { return true; }
        }, 0x5255_0000_0000L | (serverIp & 0xffff_ffffL));
        server = new DhcpServer(link, serverIp, 0, 0, netmask, this::lease);
    }

    /**
     * Serves DHCP for {@code cidr} (e.g. "10.0.3.0/24": server .1, clients from .10) on {@code segment},
     * which this service starts and owns.
     */
    public static DhcpService start(NetBackend segment, String cidr) throws IOException {
        int slash = cidr.indexOf('/');
        if (slash < 0) throw new IllegalArgumentException("expected a network like 10.0.3.0/24, not '" + cidr + "'");
        int prefix = Integer.parseInt(cidr.substring(slash + 1));
        if (prefix < 8 || prefix > 28) throw new IllegalArgumentException("the prefix length must be 8 to 28, not " + prefix);
        int net = UserNetworkConfig.toInt(UserNetworkConfig.parseIpv4(cidr.substring(0, slash), "network"));
        DhcpService s = new DhcpService(segment, net, prefix);
        segment.start(new GuestPort() {
            @Override public boolean receive(ByteBuffer frame) {
                s.onFrame(frame);
                return true;
            }

            @Override public boolean canReceive() { return true; }
        });
        return s;
    }

    private synchronized int lease(long mac) {
        Integer ip = leases.get(mac);
        if (ip != null) return ip;
        int next = network + FIRST_HOST + leases.size();
        if ((next & ~netmask) == ~netmask) return 0; // the broadcast address: the pool is used up
        leases.put(mac, next);
        return next;
    }

    /** The address leased to {@code mac}, e.g. "10.0.3.10", or null. */
    public synchronized String leaseOf(long mac) {
        Integer ip = leases.get(mac);
        return ip == null ? null : ipString(ip);
    }

    private void onFrame(ByteBuffer frame) {
        int len = Math.min(frame.remaining(), in.length);
        if (len < UDP_PAYLOAD) return;
        frame.get(frame.position(), in, 0, len);
        if (u16(in, 12) != ETHERTYPE_IPV4 || (in[IP] & 0xf0) != 0x40 || u8(in, IP + 9) != PROTO_UDP) return;
        int ihl = (in[IP] & 0x0f) * 4;
        int udp = IP + ihl;
        if (ihl < IP_HEADER || udp + UDP_HEADER > len) return;
        if (u16(in, udp + 2) != DhcpServer.SERVER_PORT) return;
        int udpLength = u16(in, udp + 4);
        if (udpLength < UDP_HEADER || udp + udpLength > len) return;
        synchronized (this) {
            server.onMessage(in, udp + UDP_HEADER, udpLength - UDP_HEADER);
        }
    }

    @Override
    public void close() throws IOException {
        segment.close();
    }
}
