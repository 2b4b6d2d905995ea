package dev.visor.net.l2;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The tap backend against the real host kernel: a fake guest at 192.168.254.2 talks to the host side
 * of the tap at 192.168.254.1. Needs root and /dev/net/tun; skipped otherwise.
 */
class TapBackendTest {
    private static final String IF = "vtap-test0";
    private static final byte[] GUEST_MAC = HexFormat.of().parseHex("525400123456");
    private static final byte[] GUEST_IP = {(byte) 192, (byte) 168, (byte) 254, 2};
    private static final byte[] HOST_IP = {(byte) 192, (byte) 168, (byte) 254, 1};
    private static final int ETH_ARP = 0x0806;
    private static final int ETH_IPV4 = 0x0800;

    @Test
    void anOverlongNameIsRefusedWithAClearMessage() {
        IOException e = assertThrows(IOException.class, () -> TapBackend.open("vtap-name-too-long"));
        assertEquals("invalid tap interface name 'vtap-name-too-long': use at most 15 characters from letters, digits, '-', '_' and '.'",
                e.getMessage());
        assertThrows(IOException.class, () -> TapBackend.open("tap/0"));
        assertThrows(IOException.class, () -> TapBackend.open("tap 0"));
        assertThrows(IOException.class, () -> TapBackend.open(".."));
    }

    @Test
    void arpAndPingReachTheHostKernelAndBack() throws Exception {
        assumeTrue(Files.exists(Path.of("/dev/net/tun")), "no /dev/net/tun");
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to create a tap");
        assumeTrue(run("ip", "-V") == 0, "needs the ip command");
        FakeGuest guest = new FakeGuest();
        TapBackend tap = TapBackend.open(IF);
        try {
            assertEquals(IF, tap.name());
            tap.start(guest);
            assertEquals(0, run("ip", "addr", "replace", "192.168.254.1/24", "dev", IF));
            assertEquals(0, run("ip", "link", "set", IF, "up"));

            tap.send(arpRequest());
            byte[] reply = await(tap, guest, f -> type(f) == ETH_ARP && f.length >= 42 && u16(f, 20) == 2
                    && Arrays.equals(f, 28, 32, HOST_IP, 0, 4) && Arrays.equals(f, 38, 42, GUEST_IP, 0, 4), "an ARP reply");
            assertArrayEquals(GUEST_MAC, Arrays.copyOfRange(reply, 0, 6), "ARP reply sent to the guest's MAC");
            byte[] hostMac = Arrays.copyOfRange(reply, 22, 28);

            byte[] payload = "visor tap backend echo test data".getBytes(StandardCharsets.US_ASCII);
            tap.send(echoRequest(hostMac, 0x5601, 7, payload));
            byte[] echo = await(tap, guest, f -> type(f) == ETH_IPV4 && f.length >= 42 + payload.length
                    && f[23] == 1 && Arrays.equals(f, 26, 30, HOST_IP, 0, 4) && f[34] == 0 && u16(f, 38) == 0x5601, "an echo reply");
            assertEquals(7, u16(echo, 40), "echo sequence");
            assertArrayEquals(payload, Arrays.copyOfRange(echo, 42, 42 + payload.length), "echo payload");
            assertEquals(0, tap.txDropped());
        } finally {
            long t0 = System.nanoTime();
            tap.close();
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertTrue(ms < 1000, "close took " + ms + " ms");
        }
        assertNotEquals(0, run("ip", "link", "show", IF), "a non-persistent tap disappears when closed");
        tap.send(arpRequest()); // after close: dropped, no crash
    }

    @Test
    void aTapInUseIsRefusedWithAClearMessage() throws Exception {
        assumeTrue(Files.exists(Path.of("/dev/net/tun")), "no /dev/net/tun");
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to create a tap");
        try (TapBackend first = TapBackend.open("vtap-test1")) {
            IOException e = assertThrows(IOException.class, () -> TapBackend.open("vtap-test1"));
            assertEquals("cannot open tap device vtap-test1: Device or resource busy (it is already in use, by this or another process)",
                    e.getMessage());
        }
        try (TapBackend again = TapBackend.open("vtap-test1")) { // closing released it
            assertEquals("vtap-test1", again.name());
        }
    }

    @Test
    void theKernelNumbersAPatternName() throws Exception {
        assumeTrue(Files.exists(Path.of("/dev/net/tun")), "no /dev/net/tun");
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to create a tap");
        try (TapBackend tap = TapBackend.open("vtapt%d")) {
            assertTrue(tap.name().matches("vtapt[0-9]+"), tap.name());
        }
    }

    /** Waits for a frame matching {@code want}, answering the host's ARP requests for the guest meanwhile. */
    private static byte[] await(TapBackend tap, FakeGuest guest, Predicate<byte[]> want, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        int others = 0;
        for (long left; (left = deadline - System.nanoTime()) > 0; ) {
            byte[] f = guest.next(TimeUnit.NANOSECONDS.toMillis(left) + 1);
            if (f == null) {
                break;
            }
            if (want.test(f)) {
                return f;
            }
            if (type(f) == ETH_ARP && f.length >= 42 && u16(f, 20) == 1 && Arrays.equals(f, 38, 42, GUEST_IP, 0, 4)) {
                tap.send(arpReplyTo(f));
            }
            others++; // e.g. IPv6 router solicitations once the link is up
        }
        return fail("no " + what + " from the host (" + others + " other frames)");
    }

    private static int run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        return p.waitFor();
    }

    private static int type(byte[] f) {
        return u16(f, 12);
    }

    private static int u16(byte[] f, int off) {
        return (f[off] & 0xff) << 8 | f[off + 1] & 0xff;
    }

    private static ByteBuffer arp(byte[] dstMac, int op, byte[] targetMac, byte[] targetIp) {
        ByteBuffer b = ByteBuffer.allocate(60); // padded to the Ethernet minimum
        b.put(dstMac).put(GUEST_MAC).putShort((short) ETH_ARP);
        b.putShort((short) 1).putShort((short) ETH_IPV4).put((byte) 6).put((byte) 4).putShort((short) op);
        b.put(GUEST_MAC).put(GUEST_IP).put(targetMac).put(targetIp);
        return b.clear();
    }

    private static ByteBuffer arpRequest() {
        byte[] broadcast = {-1, -1, -1, -1, -1, -1};
        return arp(broadcast, 1, new byte[6], HOST_IP);
    }

    private static ByteBuffer arpReplyTo(byte[] request) {
        byte[] mac = Arrays.copyOfRange(request, 22, 28);
        return arp(mac, 2, mac, Arrays.copyOfRange(request, 28, 32));
    }

    private static ByteBuffer echoRequest(byte[] hostMac, int id, int seq, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(14 + 20 + 8 + payload.length);
        b.put(hostMac).put(GUEST_MAC).putShort((short) ETH_IPV4);
        b.put((byte) 0x45).put((byte) 0).putShort((short) (20 + 8 + payload.length)).putShort((short) 0x1234)
                .putShort((short) 0x4000).put((byte) 64).put((byte) 1).putShort((short) 0).put(GUEST_IP).put(HOST_IP);
        b.putShort(24, checksum(b.array(), 14, 20));
        b.put((byte) 8).put((byte) 0).putShort((short) 0).putShort((short) id).putShort((short) seq).put(payload);
        b.putShort(36, checksum(b.array(), 34, 8 + payload.length));
        return b.clear();
    }

    /** The Internet checksum (RFC 1071) of {@code a[off..off+len)}. */
    private static short checksum(byte[] a, int off, int len) {
        long sum = 0;
        for (int i = 0; i < len; i += 2) {
            sum += (a[off + i] & 0xff) << 8 | (i + 1 < len ? a[off + i + 1] & 0xff : 0);
        }
        while (sum >> 16 != 0) {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        return (short) ~sum;
    }
}
