package dev.visor.net.user;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@link UserNetwork} driven frame by frame from a {@link FakeGuest}. */
@Timeout(60)
class UserNetworkTest {
    private UserNetwork net;
    private FakeGuest guest;

    private FakeGuest start(String options) throws IOException {
        net = new UserNetwork(UserNetworkConfig.parse(options));
        guest = new FakeGuest(net);
        net.start(guest);
        return guest;
    }

    @AfterEach
    void close() throws IOException {
        if (net != null) {
            assertEquals(0, net.internalErrors, "exceptions caught on the selector thread");
            net.close();
        }
    }

    @Test
    void arpForGatewayGetsGatewayMac() throws Exception {
        FakeGuest g = start("");
        g.send(FakeGuest.arpRequest(FakeGuest.GATEWAY));
        byte[] reply = g.await(f -> FakeGuest.u16(f, 12) == 0x0806 ? f : null, 2000);
        assertNotNull(reply, "ARP reply");
        assertEquals(2, FakeGuest.u16(reply, 20), "opcode reply");
        long senderMac = (long) FakeGuest.u16(reply, 22) << 32 | (FakeGuest.i32(reply, 24) & 0xffffffffL);
        assertEquals(UserNetwork.GATEWAY_MAC, senderMac);
        assertEquals(FakeGuest.GATEWAY, FakeGuest.i32(reply, 28), "sender IP");
        assertEquals(FakeGuest.IP, FakeGuest.i32(reply, 38), "target IP");
        assertEquals(FakeGuest.MAC, (long) FakeGuest.u16(reply, 0) << 32 | (FakeGuest.i32(reply, 2) & 0xffffffffL), "sent to the asker");
    }

    @Test
    void dhcpDiscoverOfferRequestAck() throws Exception {
        FakeGuest g = start("");
        dhcpExchange(g, 0x1234_5678);
    }

    static void dhcpExchange(FakeGuest g, int xid) throws InterruptedException {
        g.send(g.dhcp(1, xid, 0));
        byte[] offer = awaitDhcp(g, xid);
        assertNotNull(offer, "DHCP OFFER");
        assertEquals(FakeGuest.ip(10, 0, 2, 15), FakeGuest.i32(offer, 16), "yiaddr");
        assertEquals(2, option(offer, 53)[0], "message type OFFER");
        assertEquals(FakeGuest.GATEWAY, FakeGuest.i32(option(offer, 3), 0), "router");
        assertEquals(FakeGuest.DNS, FakeGuest.i32(option(offer, 6), 0), "DNS server");
        assertEquals(FakeGuest.ip(255, 255, 255, 0), FakeGuest.i32(option(offer, 1), 0), "subnet mask");
        assertTrue(FakeGuest.i32(option(offer, 51), 0) > 0, "lease time");
        assertEquals(FakeGuest.GATEWAY, FakeGuest.i32(option(offer, 54), 0), "server identifier");

        g.send(g.dhcp(3, xid, FakeGuest.ip(10, 0, 2, 15)));
        byte[] ack = awaitDhcp(g, xid);
        assertNotNull(ack, "DHCP ACK");
        assertEquals(5, option(ack, 53)[0], "message type ACK");
        assertEquals(FakeGuest.ip(10, 0, 2, 15), FakeGuest.i32(ack, 16), "yiaddr");
    }

    @Test
    void dhcpRequestForAnotherAddressGetsNak() throws Exception {
        FakeGuest g = start("");
        g.send(g.dhcp(3, 77, FakeGuest.ip(10, 0, 2, 99)));
        byte[] nak = awaitDhcp(g, 77);
        assertNotNull(nak);
        assertEquals(6, option(nak, 53)[0], "message type NAK");
    }

    /** The BOOTP message of a DHCP reply to the client port with transaction id {@code xid}. */
    private static byte[] awaitDhcp(FakeGuest g, int xid) throws InterruptedException {
        return g.await(f -> {
            FakeGuest.Udp u = FakeGuest.parseUdp(f);
            if (u == null || u.dstPort() != 68 || u.srcPort() != 67) return null;
            byte[] m = u.payload();
            return m.length >= 240 && m[0] == 2 && FakeGuest.i32(m, 4) == xid ? m : null;
        }, 3000);
    }

    private static byte[] option(byte[] m, int code) {
        for (int i = 240; i < m.length; ) {
            int c = m[i] & 0xff;
            if (c == 255) break;
            if (c == 0) { i++; continue; }
            int len = m[i + 1] & 0xff;
            if (c == code) return Arrays.copyOfRange(m, i + 2, i + 2 + len);
            i += 2 + len;
        }
        fail("no DHCP option " + code);
        return null;
    }

    @Test
    void pingGatewayEchoesPayload() throws Exception {
        FakeGuest g = start("");
        byte[] data = "visor ping payload 0123456789".getBytes(StandardCharsets.US_ASCII);
        g.send(g.icmpEcho(FakeGuest.GATEWAY, 0x4242, 7, data));
        FakeGuest.Ipv4 reply = g.await(f -> {
            FakeGuest.Ipv4 ip = FakeGuest.parseIpv4(f);
            return ip != null && ip.protocol() == 1 ? ip : null;
        }, 2000);
        assertNotNull(reply, "echo reply");
        byte[] f = reply.frame();
        assertEquals(FakeGuest.GATEWAY, reply.src());
        assertEquals(FakeGuest.IP, reply.dst());
        assertEquals(0, f[34], "type echo reply");
        assertEquals(0xffff, FakeGuest.sum(0, f, 34, reply.l4Length()), "ICMP checksum");
        assertEquals(0x4242, FakeGuest.u16(f, 38));
        assertEquals(7, FakeGuest.u16(f, 40));
        assertArrayEquals(data, Arrays.copyOfRange(f, 42, 34 + reply.l4Length()));
    }

    @Test
    void dnsResolvesLocalhost() throws Exception {
        FakeGuest g = start("");
        byte[] answer = resolve(g, "localhost", 1, 0x0101);
        assertEquals(0, answer[3] & 0x0f, "rcode NOERROR");
        assertTrue(FakeGuest.u16(answer, 6) >= 1, "at least one answer");
        assertEquals(127, answer[answer.length - 4], "localhost is 127.x");
    }

    @Test
    void dnsResolvesHostName() throws Exception {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
            assumeTrue(Arrays.stream(InetAddress.getAllByName(host)).anyMatch(a -> a instanceof Inet4Address));
        } catch (IOException e) {
            assumeTrue(false, "the host's own name does not resolve here");
            return;
        }
        FakeGuest g = start("");
        byte[] answer = resolve(g, host, 1, 0x0202);
        assertEquals(0, answer[3] & 0x0f, "rcode NOERROR");
        assertTrue(FakeGuest.u16(answer, 6) >= 1, "at least one A answer for " + host);
    }

    @Test
    void dnsAaaaIsEmptyAndMxNotImplemented() throws Exception {
        FakeGuest g = start("");
        byte[] aaaa = resolve(g, "localhost", 28, 0x0303);
        assertEquals(0, aaaa[3] & 0x0f, "AAAA: NOERROR");
        assertEquals(0, FakeGuest.u16(aaaa, 6), "AAAA: no answers");
        byte[] mx = resolve(g, "localhost", 15, 0x0404);
        assertEquals(4, mx[3] & 0x0f, "MX: NOTIMP");
    }

    /** Sends a query for {@code name} and returns the response (checked for id and question). */
    private static byte[] resolve(FakeGuest g, String name, int type, int id) throws InterruptedException {
        ByteBuffer q = ByteBuffer.allocate(512);
        q.putShort((short) id).putShort((short) 0x0100).putShort((short) 1).putShort((short) 0).putInt(0);
        for (String label : name.split("\\.")) {
            q.put((byte) label.length()).put(label.getBytes(StandardCharsets.US_ASCII));
        }
        q.put((byte) 0).putShort((short) type).putShort((short) 1);
        byte[] query = Arrays.copyOf(q.array(), q.position());
        g.send(g.udp(FakeGuest.IP, 40000 + id % 1000, FakeGuest.DNS, 53, query));
        byte[] r = g.await(f -> {
            FakeGuest.Udp u = FakeGuest.parseUdp(f);
            return u != null && u.src() == FakeGuest.DNS && u.srcPort() == 53 && FakeGuest.u16(u.payload(), 0) == id ? u.payload() : null;
        }, 10_000);
        assertNotNull(r, "DNS response for " + name);
        assertTrue((r[2] & 0x80) != 0, "QR set");
        assertEquals(1, FakeGuest.u16(r, 4), "question echoed");
        assertArrayEquals(Arrays.copyOfRange(query, 12, query.length), Arrays.copyOfRange(r, 12, query.length), "same question");
        return r;
    }

    @Test
    void udpToGatewayReachesHostAndReplyComesBack() throws Exception {
        FakeGuest g = start("");
        try (DatagramSocket server = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0))) {
            server.setSoTimeout(5000);
            byte[] hello = "hello from the guest".getBytes(StandardCharsets.US_ASCII);
            g.send(g.udp(FakeGuest.IP, 33333, FakeGuest.GATEWAY, server.getLocalPort(), hello));
            DatagramPacket p = new DatagramPacket(new byte[2048], 2048);
            server.receive(p);
            assertArrayEquals(hello, Arrays.copyOf(p.getData(), p.getLength()));
            byte[] answer = "hello guest".getBytes(StandardCharsets.US_ASCII);
            server.send(new DatagramPacket(answer, answer.length, p.getSocketAddress()));
            FakeGuest.Udp u = g.await(f -> {
                FakeGuest.Udp x = FakeGuest.parseUdp(f);
                return x != null && x.dstPort() == 33333 ? x : null;
            }, 5000);
            assertNotNull(u, "reply delivered to the guest");
            assertEquals(FakeGuest.GATEWAY, u.src());
            assertEquals(server.getLocalPort(), u.srcPort());
            assertEquals(FakeGuest.IP, u.dst());
            assertArrayEquals(answer, u.payload());
        }
    }

    @Test
    void tcpGuestToHostBothDirectionsAndClose() throws Exception {
        FakeGuest g = start("");
        byte[] up = new byte[1 << 20], down = new byte[1 << 20];
        new Random(1).nextBytes(up);
        new Random(2).nextBytes(down);
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            byte[][] serverGot = new byte[1][];
            Throwable[] serverError = new Throwable[1];
            Thread t = Thread.ofPlatform().start(() -> {
                try (Socket s = server.accept()) {
                    InputStream in = s.getInputStream();
                    OutputStream out = s.getOutputStream();
                    Thread writer = Thread.ofPlatform().start(() -> {
                        try {
                            out.write(down);
                            s.shutdownOutput();
                        } catch (IOException e) {
                            serverError[0] = e;
                        }
                    });
                    serverGot[0] = in.readAllBytes(); // until the guest's FIN
                    writer.join();
                } catch (Throwable e) {
                    serverError[0] = e;
                }
            });
            GuestTcp c = new GuestTcp(g, 40001, FakeGuest.GATEWAY, server.getLocalPort());
            assertTrue(c.connect(5000), "connected");
            c.write(up, 30_000);
            byte[] got = c.read(down.length, 30_000);
            c.close(5000);
            assertTrue(c.awaitFin(10_000), "host's FIN reaches the guest");
            t.join(10_000);
            assertNull(serverError[0], () -> "server failed: " + serverError[0]);
            assertArrayEquals(sha256(up), sha256(serverGot[0]), "host received the guest's bytes");
            assertEquals(down.length, got.length, "guest received all of the host's bytes");
            assertArrayEquals(sha256(down), sha256(got), "guest received the host's bytes");
        }
    }

    @Test
    void tcpToClosedPortGetsReset() throws Exception {
        FakeGuest g = start("");
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            port = s.getLocalPort();
        }
        GuestTcp c = new GuestTcp(g, 40002, FakeGuest.GATEWAY, port);
        assertFalse(c.connect(5000), "refused");
        assertTrue(c.reset);
    }

    @Test
    void tcpSegmentForNoConnectionGetsReset() throws Exception {
        FakeGuest g = start("");
        g.send(g.tcp(40003, FakeGuest.GATEWAY, 9, 1000, 5555, GuestTcp.ACK, 1000, new byte[0], new byte[0]));
        FakeGuest.Tcp r = g.await(f -> {
            FakeGuest.Tcp t = FakeGuest.parseTcp(f);
            return t != null && t.dstPort() == 40003 ? t : null;
        }, 2000);
        assertNotNull(r);
        assertTrue(r.has(GuestTcp.RST));
        assertEquals(5555, r.seq(), "RST's sequence number is the segment's ACK");
    }

    @Test
    void tcpHostForwardReachesGuest() throws Exception {
        int hostPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            hostPort = s.getLocalPort();
        }
        FakeGuest g = start("hostfwd=tcp:127.0.0.1:" + hostPort + "-:8080");
        try (Socket client = new Socket()) {
            client.connect(new InetSocketAddress("127.0.0.1", hostPort), 5000);
            client.setSoTimeout(10_000);
            GuestTcp c = GuestTcp.accept(g, 8080, 5000);
            assertEquals(FakeGuest.GATEWAY, c.remoteIp, "forwarded connections come from the gateway");
            byte[] request = new byte[200_000];
            new Random(3).nextBytes(request);
            client.getOutputStream().write(request);
            byte[] got = c.read(request.length, 10_000);
            assertArrayEquals(request, got, "host client -> guest");
            byte[] response = new byte[300_000];
            new Random(4).nextBytes(response);
            c.write(response, 10_000);
            byte[] back = client.getInputStream().readNBytes(response.length);
            assertArrayEquals(response, back, "guest -> host client");
            c.close(5000);
            assertEquals(-1, client.getInputStream().read(), "guest's FIN reaches the host client");
            client.shutdownOutput();
            assertTrue(c.awaitFin(5000), "host client's FIN reaches the guest");
        }
    }

    @Test
    void udpHostForwardRelaysBothWays() throws Exception {
        int hostPort;
        try (DatagramSocket s = new DatagramSocket(0, InetAddress.getByName("127.0.0.1"))) {
            hostPort = s.getLocalPort();
        }
        FakeGuest g = start("hostfwd=udp::" + hostPort + "-:5353");
        try (DatagramSocket client = new DatagramSocket(0, InetAddress.getByName("127.0.0.1"))) {
            client.setSoTimeout(5000);
            byte[] q = "question".getBytes(StandardCharsets.US_ASCII);
            client.send(new DatagramPacket(q, q.length, InetAddress.getByName("127.0.0.1"), hostPort));
            FakeGuest.Udp u = g.await(f -> {
                FakeGuest.Udp x = FakeGuest.parseUdp(f);
                return x != null && x.dstPort() == 5353 ? x : null;
            }, 5000);
            assertNotNull(u, "datagram forwarded to the guest");
            assertEquals(FakeGuest.GATEWAY, u.src());
            assertArrayEquals(q, u.payload());
            byte[] a = "answer".getBytes(StandardCharsets.US_ASCII);
            g.send(g.udp(FakeGuest.IP, 5353, u.src(), u.srcPort(), a));
            DatagramPacket p = new DatagramPacket(new byte[100], 100);
            client.receive(p);
            assertArrayEquals(a, Arrays.copyOf(p.getData(), p.getLength()));
        }
    }

    @Test
    void bindingATakenPortFailsAtStart() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            UserNetwork n = new UserNetwork(UserNetworkConfig.parse("hostfwd=tcp::" + taken.getLocalPort() + "-:22"));
            IOException e = assertThrows(IOException.class, () -> n.start(new FakeGuest(n)));
            assertTrue(e.getMessage().contains("hostfwd=tcp:127.0.0.1:" + taken.getLocalPort()), e.getMessage());
        }
    }

    static byte[] sha256(byte[] data) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(data);
    }
}
