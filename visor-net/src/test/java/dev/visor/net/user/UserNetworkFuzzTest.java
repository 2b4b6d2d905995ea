package dev.visor.net.user;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Garbage from the guest: random bytes, truncations and mutations of valid frames, and well-formed
 * frames with random contents (checksums fixed up so they reach the protocol code). Nothing may throw
 * on the caller's thread or the selector thread, and DHCP must still work afterwards.
 */
@Timeout(120)
class UserNetworkFuzzTest {
    /** Destinations that never reach real hosts: the gateway's own services and unroutable local addresses. */
    private static final int[] SAFE_DESTINATIONS = {
        FakeGuest.DNS, FakeGuest.ip(10, 0, 2, 9), FakeGuest.ip(10, 0, 2, 255), -1, FakeGuest.ip(127, 0, 0, 1), 0,
    };

    @Test
    void garbageFramesBreakNothing() throws Exception {
        UserNetwork net = new UserNetwork(UserNetworkConfig.defaults());
        FakeGuest g = new FakeGuest(net);
        net.start(g);
        try {
            Random r = new Random(20240611);
            List<byte[]> valid = validFrames(g);
            for (int i = 0; i < 20_000; i++) {
                byte[] f = switch (r.nextInt(5)) {
                    case 0 -> randomBytes(r, r.nextInt(1600));
                    case 1 -> truncate(r, valid.get(r.nextInt(valid.size())));
                    case 2 -> mutate(r, valid.get(r.nextInt(valid.size())));
                    case 3 -> randomTransport(r, g);
                    default -> randomHeaders(r, valid.get(r.nextInt(valid.size())));
                };
                int off = r.nextInt(4);
                ByteBuffer b = ByteBuffer.allocate(off + f.length + 3);
                b.position(off).put(f).flip().position(off); // a frame in the middle of a larger buffer
                net.send(b);
                if ((i & 255) == 0) Thread.sleep(1); // let the queue drain now and then
                g.received.clear();
            }
            Thread.sleep(200);
            g.received.clear();
            UserNetworkTest.dhcpExchange(g, 0x0badf00d);
            assertEquals(0, net.internalErrors, "exceptions caught on the selector thread");
        } finally {
            net.close();
        }
    }

    private static List<byte[]> validFrames(FakeGuest g) {
        List<byte[]> l = new ArrayList<>();
        l.add(g.dhcp(1, 1, 0));
        l.add(g.dhcp(3, 2, FakeGuest.IP));
        l.add(FakeGuest.arpRequest(FakeGuest.GATEWAY));
        l.add(g.icmpEcho(FakeGuest.GATEWAY, 1, 1, new byte[64]));
        byte[] dns = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't', 0, 0, 1, 0, 1};
        l.add(g.udp(FakeGuest.IP, 1000, FakeGuest.DNS, 53, dns));
        l.add(g.tcp(1234, FakeGuest.ip(10, 0, 2, 9), 80, 1, 0, GuestTcp.SYN, 1000, new byte[] {2, 4, 5, (byte) 0xb4, 1, 3, 3, 7}, new byte[0]));
        l.add(g.tcp(1234, FakeGuest.DNS, 53, 1, 5, GuestTcp.ACK | GuestTcp.PSH, 1000, new byte[0], new byte[100]));
        return l;
    }

    private static byte[] randomBytes(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    private static byte[] truncate(Random r, byte[] f) {
        byte[] t = new byte[r.nextInt(f.length + 1)];
        System.arraycopy(f, 0, t, 0, t.length);
        return t;
    }

    private static byte[] mutate(Random r, byte[] f) {
        byte[] m = f.clone();
        for (int n = 1 + r.nextInt(8); n > 0; n--) m[r.nextInt(m.length)] = (byte) r.nextInt();
        return m;
    }

    /** A valid frame with random bytes in the IP and transport headers, IP checksum recomputed. */
    private static byte[] randomHeaders(Random r, byte[] f) {
        byte[] m = f.clone();
        if (m.length < 34 || FakeGuest.u16(m, 12) != 0x0800) return mutate(r, f);
        for (int n = 1 + r.nextInt(4); n > 0; n--) {
            int at = 14 + r.nextInt(Math.min(40, m.length - 14));
            if (at < 30 || at >= 34) m[at] = (byte) r.nextInt(); // keep the destination safe
        }
        m[24] = m[25] = 0;
        int ihl = (m[14] & 0xf) * 4;
        if (14 + ihl <= m.length) {
            int sum = ~FakeGuest.sum(0, m, 14, ihl);
            m[24] = (byte) (sum >>> 8);
            m[25] = (byte) sum;
        }
        return m;
    }

    /** Well-formed UDP or TCP (correct checksums) with random ports, flags, numbers and payload to safe addresses. */
    private static byte[] randomTransport(Random r, FakeGuest g) {
        int dst = SAFE_DESTINATIONS[r.nextInt(SAFE_DESTINATIONS.length)];
        byte[] payload = randomBytes(r, r.nextInt(r.nextBoolean() ? 40 : 1400));
        if (r.nextBoolean()) {
            int dstPort = r.nextInt(4) == 0 ? 53 : r.nextInt(4) == 0 ? 67 : r.nextInt(65536);
            return g.udp(FakeGuest.IP, r.nextInt(65536), dst, dstPort, payload);
        }
        byte[] options = randomBytes(r, r.nextInt(11) & ~3);
        return g.tcp(r.nextInt(65536), dst, r.nextInt(65536), r.nextInt(), r.nextInt(), r.nextInt(256), r.nextInt(65536), options, payload);
    }
}
