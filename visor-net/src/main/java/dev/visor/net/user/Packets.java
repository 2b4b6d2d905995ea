package dev.visor.net.user;

/**
 * Field offsets and big-endian accessors for the frames we parse and build. Every frame we send has
 * the same fixed layout (no IP options), so the offsets are constants:
 *
 * <pre>
 *   0        6        12   14                     34          42 (UDP payload)
 *   +--------+--------+----+----------------------+-----------+----------
 *   | dst MAC| src MAC|type| IPv4 header (20)     | UDP (8)   | payload
 *   |        |        |    |                      | TCP (20+) | ...     54 (TCP payload, no options)
 * </pre>
 */
final class Packets {
    static final int ETH_HEADER = 14;
    static final int ETHERTYPE_IPV4 = 0x0800;
    static final int ETHERTYPE_ARP = 0x0806;
    static final int IP = ETH_HEADER;
    static final int IP_HEADER = 20;
    static final int L4 = IP + IP_HEADER;
    static final int UDP_HEADER = 8;
    static final int UDP_PAYLOAD = L4 + UDP_HEADER;
    static final int TCP_HEADER = 20;
    static final int PROTO_ICMP = 1;
    static final int PROTO_TCP = 6;
    static final int PROTO_UDP = 17;
    /** Largest frame we accept or send: a 1500-byte MTU plus the Ethernet header. */
    static final int MAX_FRAME = 1514;
    /** Largest IP packet we send (the MTU). */
    static final int MTU = MAX_FRAME - ETH_HEADER;
    static final long BROADCAST_MAC = 0xffff_ffff_ffffL;

    private Packets() { }

    static int u8(byte[] a, int i) { return a[i] & 0xff; }

    static int u16(byte[] a, int i) { return (a[i] & 0xff) << 8 | (a[i + 1] & 0xff); }

    static int i32(byte[] a, int i) { return (a[i] & 0xff) << 24 | (a[i + 1] & 0xff) << 16 | (a[i + 2] & 0xff) << 8 | (a[i + 3] & 0xff); }

    static long mac(byte[] a, int i) { return (long) u16(a, i) << 32 | (i32(a, i + 2) & 0xffffffffL); }

    static void put16(byte[] a, int i, int v) {
        a[i] = (byte) (v >>> 8);
        a[i + 1] = (byte) v;
    }

    static void put32(byte[] a, int i, int v) {
        a[i] = (byte) (v >>> 24);
        a[i + 1] = (byte) (v >>> 16);
        a[i + 2] = (byte) (v >>> 8);
        a[i + 3] = (byte) v;
    }

    static void putMac(byte[] a, int i, long mac) {
        put16(a, i, (int) (mac >>> 32));
        put32(a, i + 2, (int) mac);
    }

    /** "10.0.2.15" for log and error messages. */
    static String ipString(int ip) {
        return (ip >>> 24) + "." + (ip >>> 16 & 0xff) + "." + (ip >>> 8 & 0xff) + "." + (ip & 0xff);
    }
}
