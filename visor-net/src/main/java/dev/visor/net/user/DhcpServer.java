package dev.visor.net.user;

import java.util.Arrays;

import static dev.visor.net.user.Packets.*;

/**
 * A DHCP server (RFC 2131, options RFC 2132). Which address a client gets is up to a lease function
 * of its MAC: the NAT gives its one guest address to whoever asks; {@link SwitchDhcp} keeps a pool
 * for the VMs on a switch. DISCOVER gets an OFFER, REQUEST for our address an ACK (else a NAK), INFORM an ACK
 * without an address; RELEASE and DECLINE are ignored. Replies go to the broadcast addresses while the
 * client has no address (busybox udhcpc and the kernel's ipconfig listen on raw sockets then).
 * Selector thread only.
 */
final class DhcpServer {
    static final int SERVER_PORT = 67, CLIENT_PORT = 68;
    private static final int MAGIC_COOKIE = 0x63825363;
    private static final int OPTIONS = 240;
    /** BOOTP's minimum message size (RFC 1542 §2.1); some clients discard shorter replies. */
    private static final int MIN_MESSAGE = 300;
    private static final int LEASE_SECONDS = 86400;
    private static final int DISCOVER = 1, OFFER = 2, REQUEST = 3, DECLINE = 4, ACK = 5, NAK = 6, RELEASE = 7, INFORM = 8;

    private final GuestLink link;
    private final int serverIp, routerIp, dnsIp, netmask;
    private final java.util.function.LongToIntFunction lease;

    /** The NAT's server: one address for the guest, the gateway as server, router and (with dnsIp) DNS. */
    DhcpServer(GuestLink link, int gatewayIp, int dnsIp, int guestIp, int netmask) {
        this(link, gatewayIp, gatewayIp, dnsIp, netmask, mac -> guestIp);
    }

    /**
     * @param routerIp the default route offered, 0 for none
     * @param dnsIp    the DNS server offered, 0 for none
     * @param lease    the address for a client MAC, 0 when the pool is exhausted (no answer then)
     */
    DhcpServer(GuestLink link, int serverIp, int routerIp, int dnsIp, int netmask, java.util.function.LongToIntFunction lease) {
        this.link = link;
        this.serverIp = serverIp;
        this.routerIp = routerIp;
        this.dnsIp = dnsIp;
        this.netmask = netmask;
        this.lease = lease;
    }

    /** Handles a message of {@code length} bytes (the UDP payload) at {@code off} in {@code f}. */
    void onMessage(byte[] f, int off, int length) {
        if (length < OPTIONS + 1 || u8(f, off) != 1 || u8(f, off + 1) != 1 || u8(f, off + 2) != 6) return;
        if (i32(f, off + 236) != MAGIC_COOKIE) return;
        int type = 0, requested = 0, serverId = 0;
        int end = off + length;
        for (int i = off + OPTIONS; i < end; ) {
            int code = u8(f, i);
            if (code == 255) break;
            if (code == 0) { i++; continue; }
            if (i + 1 >= end) return;
            int len = u8(f, i + 1), value = i + 2;
            if (value + len > end) return;
            if (code == 53 && len == 1) type = u8(f, value);
            else if (code == 50 && len == 4) requested = i32(f, value);
            else if (code == 54 && len == 4) serverId = i32(f, value);
            i = value + len;
        }
        int ciaddr = i32(f, off + 12);
        int guestIp = lease.applyAsInt(mac(f, off + 28));
        if (guestIp == 0) return; // no address left for this client
        switch (type) {
            case DISCOVER -> reply(f, off, OFFER, guestIp);
            case REQUEST -> {
                if (serverId != 0 && serverId != serverIp) return; // the client chose another server
                int wanted = requested != 0 ? requested : ciaddr;
                reply(f, off, wanted == guestIp || wanted == 0 ? ACK : NAK, guestIp);
            }
            case INFORM -> reply(f, off, ACK, 0);
            case DECLINE, RELEASE -> { }
            default -> { }
        }
    }

    private void reply(byte[] f, int off, int type, int yiaddr) {
        byte[] o = link.out;
        int m = UDP_PAYLOAD;
        Arrays.fill(o, m, m + MIN_MESSAGE, (byte) 0);
        o[m] = 2; // BOOTREPLY
        o[m + 1] = 1;
        o[m + 2] = 6;
        System.arraycopy(f, off + 4, o, m + 4, 4); // xid
        System.arraycopy(f, off + 10, o, m + 10, 2); // flags
        int ciaddr = i32(f, off + 12);
        put32(o, m + 12, type == NAK ? 0 : ciaddr);
        put32(o, m + 16, type == NAK ? 0 : yiaddr);
        put32(o, m + 20, 0);
        System.arraycopy(f, off + 24, o, m + 24, 4 + 16); // giaddr, chaddr
        put32(o, m + 236, MAGIC_COOKIE);
        int p = m + OPTIONS;
        p = option(o, p, 53, 1, type);
        p = option(o, p, 54, 4, serverIp);
        if (type != NAK) {
            if (yiaddr != 0) {
                p = option(o, p, 51, 4, LEASE_SECONDS);
                p = option(o, p, 58, 4, LEASE_SECONDS / 2);
                p = option(o, p, 59, 4, LEASE_SECONDS * 7 / 8);
            }
            p = option(o, p, 1, 4, netmask);
            if (routerIp != 0) p = option(o, p, 3, 4, routerIp);
            if (dnsIp != 0) p = option(o, p, 6, 4, dnsIp);
        }
        o[p++] = (byte) 255;
        int length = Math.max(p - m, MIN_MESSAGE);
        boolean broadcast = ciaddr == 0 || type == NAK || (u16(f, off + 10) & 0x8000) != 0;
        long dstMac = broadcast ? BROADCAST_MAC : mac(f, off + 28);
        int dst = broadcast ? -1 : ciaddr;
        link.sendUdp(dstMac, serverIp, SERVER_PORT, dst, CLIENT_PORT, length);
    }

    private static int option(byte[] o, int p, int code, int length, int value) {
        o[p] = (byte) code;
        o[p + 1] = (byte) length;
        if (length == 1) o[p + 2] = (byte) value;
        else put32(o, p + 2, value);
        return p + 2 + length;
    }
}
