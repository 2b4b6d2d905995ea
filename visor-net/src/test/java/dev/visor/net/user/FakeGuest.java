package dev.visor.net.user;

import dev.visor.net.GuestPort;
import dev.visor.net.NetBackend;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The guest's side in tests: a {@link GuestPort} that queues what the backend delivers, plus builders
 * and parsers for Ethernet/ARP/IPv4/UDP/TCP/ICMP frames. Parsers check every IPv4, UDP, TCP and ICMP
 * checksum with a naive implementation of their own, so a wrong checksum fails the test.
 */
final class FakeGuest implements GuestPort {
    static final long MAC = 0x5254_0012_3456L;
    static final int IP = ip(10, 0, 2, 15);
    static final int GATEWAY = ip(10, 0, 2, 2);
    static final int DNS = ip(10, 0, 2, 3);

    final LinkedBlockingQueue<byte[]> received = new LinkedBlockingQueue<>();
    final NetBackend backend;
    volatile boolean receiving = true;
    private int ipId;

    FakeGuest(NetBackend backend) {
        this.backend = backend;
    }

    @Override
    public boolean receive(ByteBuffer frame) {
        if (!receiving) return false;
        byte[] copy = new byte[frame.remaining()];
        frame.get(frame.position(), copy);
        received.add(copy);
        return true;
    }

    @Override
    public boolean canReceive() {
        return receiving;
    }

    void send(byte[] frame) {
        backend.send(ByteBuffer.wrap(frame));
    }

    /** Waits for the first frame {@code match} maps to non-null (others are discarded). */
    <T> T await(Function<byte[], T> match, long millis) throws InterruptedException {
        long end = System.nanoTime() + millis * 1_000_000;
        while (true) {
            long left = end - System.nanoTime();
            byte[] f = left > 0 ? received.poll(left, TimeUnit.NANOSECONDS) : null;
            if (f == null) return null;
            T t = match.apply(f);
            if (t != null) return t;
        }
    }

    // ---- building ----

    static int ip(int a, int b, int c, int d) {
        return a << 24 | b << 16 | c << 8 | d;
    }

    static byte[] ethernet(long dstMac, int type, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(14 + payload.length);
        b.putShort((short) (dstMac >>> 32)).putInt((int) dstMac);
        b.putShort((short) (MAC >>> 32)).putInt((int) MAC);
        b.putShort((short) type).put(payload);
        return b.array();
    }

    static byte[] arpRequest(int targetIp) {
        ByteBuffer b = ByteBuffer.allocate(28);
        b.putShort((short) 1).putShort((short) 0x0800).put((byte) 6).put((byte) 4).putShort((short) 1);
        b.putShort((short) (MAC >>> 32)).putInt((int) MAC).putInt(IP);
        b.putShort((short) 0).putInt(0).putInt(targetIp);
        return ethernet(0xffff_ffff_ffffL, 0x0806, b.array());
    }

    byte[] ipv4(int protocol, int src, int dst, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(20 + payload.length);
        b.put((byte) 0x45).put((byte) 0).putShort((short) (20 + payload.length)).putShort((short) ipId++)
                .putShort((short) 0x4000).put((byte) 64).put((byte) protocol).putShort((short) 0).putInt(src).putInt(dst);
        byte[] h = b.array();
        ByteBuffer.wrap(h).putShort(10, (short) ~sum(0, h, 0, 20));
        System.arraycopy(payload, 0, h, 20, payload.length);
        return ethernet(dst == -1 ? 0xffff_ffff_ffffL : UserNetwork.GATEWAY_MAC, 0x0800, h);
    }

    byte[] udp(int src, int srcPort, int dst, int dstPort, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(8 + payload.length);
        b.putShort((short) srcPort).putShort((short) dstPort).putShort((short) (8 + payload.length)).putShort((short) 0).put(payload);
        byte[] u = b.array();
        int c = ~sum(pseudo(src, dst, 17, u.length), u, 0, u.length) & 0xffff;
        ByteBuffer.wrap(u).putShort(6, (short) (c == 0 ? 0xffff : c));
        return ipv4(17, src, dst, u);
    }

    byte[] tcp(int srcPort, int dst, int dstPort, int seq, int ack, int flags, int window, byte[] options, byte[] payload) {
        int header = 20 + options.length;
        ByteBuffer b = ByteBuffer.allocate(header + payload.length);
        b.putShort((short) srcPort).putShort((short) dstPort).putInt(seq).putInt(ack)
                .put((byte) (header << 2)).put((byte) flags).putShort((short) window).putInt(0).put(options).put(payload);
        byte[] t = b.array();
        ByteBuffer.wrap(t).putShort(16, (short) ~sum(pseudo(IP, dst, 6, t.length), t, 0, t.length));
        return ipv4(6, IP, dst, t);
    }

    byte[] icmpEcho(int dst, int id, int seq, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(8 + data.length);
        b.put((byte) 8).put((byte) 0).putShort((short) 0).putShort((short) id).putShort((short) seq).put(data);
        byte[] m = b.array();
        ByteBuffer.wrap(m).putShort(2, (short) ~sum(0, m, 0, m.length));
        return ipv4(1, IP, dst, m);
    }

    /** A DHCP client message of {@code type} (1 DISCOVER, 3 REQUEST) with a client identifier. */
    byte[] dhcp(int type, int xid, int requested) {
        ByteBuffer b = ByteBuffer.allocate(300);
        b.put((byte) 1).put((byte) 1).put((byte) 6).put((byte) 0).putInt(xid).putShort((short) 0).putShort((short) 0x8000);
        b.putInt(0).putInt(0).putInt(0).putInt(0);
        b.putShort((short) (MAC >>> 32)).putInt((int) MAC);
        b.position(236);
        b.putInt(0x63825363);
        b.put((byte) 53).put((byte) 1).put((byte) type);
        b.put((byte) 61).put((byte) 7).put((byte) 1).putShort((short) (MAC >>> 32)).putInt((int) MAC);
        if (requested != 0) b.put((byte) 50).put((byte) 4).putInt(requested);
        if (type == 3) b.put((byte) 54).put((byte) 4).putInt(GATEWAY);
        b.put((byte) 55).put((byte) 3).put((byte) 1).put((byte) 3).put((byte) 6);
        b.put((byte) 255);
        return udp(0, 68, -1, 67, b.array());
    }

    // ---- parsing ----

    record Ipv4(int protocol, int src, int dst, byte[] frame, int l4, int l4Length) { }

    record Udp(int src, int srcPort, int dst, int dstPort, byte[] payload) { }

    record Tcp(int src, int srcPort, int dst, int dstPort, int seq, int ack, int flags, int window, byte[] options, byte[] payload) {
        boolean has(int flag) { return (flags & flag) != 0; }
    }

    static Ipv4 parseIpv4(byte[] f) {
        if (f.length < 34 || u16(f, 12) != 0x0800) return null;
        assertEquals(0x45, f[14] & 0xff, "we never send IP options");
        assertEquals(0xffff, sum(0, f, 14, 20), "IPv4 header checksum");
        int total = u16(f, 16);
        assertEquals(f.length - 14, total, "IP total length matches the frame");
        assertTrue(total <= 1500, "within the MTU");
        return new Ipv4(f[23] & 0xff, i32(f, 26), i32(f, 30), f, 34, total - 20);
    }

    static Udp parseUdp(byte[] f) {
        Ipv4 ip = parseIpv4(f);
        if (ip == null || ip.protocol != 17) return null;
        int len = u16(f, ip.l4 + 4);
        assertEquals(ip.l4Length, len, "UDP length");
        assertEquals(0xffff, sum(pseudo(ip.src, ip.dst, 17, len), f, ip.l4, len), "UDP checksum");
        return new Udp(ip.src, u16(f, ip.l4), ip.dst, u16(f, ip.l4 + 2), Arrays.copyOfRange(f, ip.l4 + 8, ip.l4 + len));
    }

    static Tcp parseTcp(byte[] f) {
        Ipv4 ip = parseIpv4(f);
        if (ip == null || ip.protocol != 6) return null;
        int t = ip.l4, header = (f[t + 12] & 0xf0) >>> 2;
        assertEquals(0xffff, sum(pseudo(ip.src, ip.dst, 6, ip.l4Length), f, t, ip.l4Length), "TCP checksum");
        return new Tcp(ip.src, u16(f, t), ip.dst, u16(f, t + 2), i32(f, t + 4), i32(f, t + 8), f[t + 13] & 0xff,
                u16(f, t + 14), Arrays.copyOfRange(f, t + 20, t + header), Arrays.copyOfRange(f, t + header, t + ip.l4Length));
    }

    static int u16(byte[] a, int i) { return (a[i] & 0xff) << 8 | (a[i + 1] & 0xff); }

    static int i32(byte[] a, int i) { return u16(a, i) << 16 | u16(a, i + 2); }

    static int pseudo(int src, int dst, int protocol, int length) {
        return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
    }

    /** Naive ones' complement sum of 16-bit words, folded. */
    static int sum(int initial, byte[] a, int off, int len) {
        long s = initial;
        for (int i = 0; i < len; i += 2) s += (a[off + i] & 0xff) << 8 | (i + 1 < len ? a[off + i + 1] & 0xff : 0);
        while ((s >>> 16) != 0) s = (s & 0xffff) + (s >>> 16);
        return (int) s;
    }
}
