package dev.visor.net.user;

import dev.visor.net.GuestPort;
import dev.visor.net.NetBackend;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The switch's DHCP service gives each MAC its own address from the pool, and the same one again. */
class DhcpServiceTest {
    /** A segment whose other end is the test: frames the service sends are queued. */
    static final class Segment implements NetBackend {
        GuestPort service;
        final LinkedBlockingQueue<byte[]> sent = new LinkedBlockingQueue<>();

        @Override public void start(GuestPort guest) { service = guest; }

        @Override public void send(ByteBuffer frame) {
            byte[] b = new byte[frame.remaining()];
            frame.get(frame.position(), b);
            sent.add(b);
        }

        @Override public void close() { }
    }

    @Test
    void eachClientGetsItsOwnStableLease() throws Exception {
        Segment seg = new Segment();
        DhcpService dhcp = DhcpService.start(seg, "10.0.3.0/24");
        assertEquals(FakeGuest.ip(10, 0, 3, 10), offer(seg, 1, 0x11));
        assertEquals(FakeGuest.ip(10, 0, 3, 11), offer(seg, 2, 0x22));
        assertEquals(FakeGuest.ip(10, 0, 3, 10), offer(seg, 3, 0x11), "the first client asks again");
        assertEquals("10.0.3.11", dhcp.leaseOf(FakeGuest.MAC & ~0xffL | 0x22));
        assertNull(dhcp.leaseOf(0x0203_0405_0607L));
        // garbage is ignored
        seg.service.receive(ByteBuffer.wrap(new byte[] {1, 2, 3}));
        seg.service.receive(ByteBuffer.wrap(new byte[600]));
        assertNull(seg.sent.poll(100, TimeUnit.MILLISECONDS));
    }

    @Test
    void badNetworksAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> DhcpService.start(new Segment(), "10.0.3.0"));
        assertThrows(IllegalArgumentException.class, () -> DhcpService.start(new Segment(), "10.0.3.0/30"));
    }

    /** Sends a DISCOVER from a MAC ending in {@code lastByte}; returns the offered address. */
    private static int offer(Segment seg, int xid, int lastByte) throws Exception {
        FakeGuest g = new FakeGuest(seg);
        byte[] f = g.dhcp(1, xid, 0);
        f[42 + 28 + 5] = (byte) lastByte; // chaddr's last byte (the service ignores the UDP checksum)
        seg.service.receive(ByteBuffer.wrap(f));
        byte[] reply = seg.sent.poll(2, TimeUnit.SECONDS);
        assertNotNull(reply, "no OFFER");
        FakeGuest.Udp u = FakeGuest.parseUdp(reply);
        assertNotNull(u, "the OFFER is not a valid UDP frame");
        assertEquals(67, u.srcPort());
        assertEquals(68, u.dstPort());
        assertEquals(2, u.payload()[242]); // option 53 = OFFER comes first
        return FakeGuest.i32(u.payload(), 16);
    }
}
