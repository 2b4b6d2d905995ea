package dev.visor.net.user;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** TCP through {@link UserNetwork} under loss, small windows, a guest that stops receiving, and teardown. */
@Timeout(60)
class TcpRelayTest {
    private UserNetwork net;
    private ServerSocket server;

    @AfterEach
    void close() throws IOException {
        if (net != null) {
            assertEquals(0, net.internalErrors, "exceptions caught on the selector thread");
            net.close();
        }
        if (server != null) server.close();
    }

    private FakeGuest start() throws IOException {
        net = new UserNetwork(UserNetworkConfig.defaults());
        FakeGuest g = new FakeGuest(net);
        net.start(g);
        server = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"));
        return g;
    }

    /** Accepts one connection: writes {@code toGuest} and closes its output, reads what comes into {@code got[0]}. */
    private Thread serve(byte[] toGuest, byte[][] got) {
        return Thread.ofPlatform().start(() -> {
            try (Socket s = server.accept()) {
                OutputStream out = s.getOutputStream();
                InputStream in = s.getInputStream();
                Thread w = Thread.ofPlatform().start(() -> {
                    try {
                        out.write(toGuest);
                        s.shutdownOutput();
                    } catch (IOException ignored) {
                        // the test's assertions report it
                    }
                });
                got[0] = in.readAllBytes();
                w.join();
            } catch (Exception ignored) {
                // the test's assertions report it
            }
        });
    }

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void recoversFromLossInBothDirections() throws Exception {
        FakeGuest g = start();
        byte[] up = random(300_000, 5), down = random(300_000, 6);
        byte[][] got = new byte[1][];
        Thread t = serve(down, got);
        GuestTcp c = new GuestTcp(g, 41000, FakeGuest.GATEWAY, server.getLocalPort());
        c.dropIncomingEvery = 37;  // the backend must retransmit (RTO or fast retransmit)
        c.dropOutgoingEvery = 41;  // the backend must drop out-of-order data and re-ACK
        assertTrue(c.connect(5000));
        c.write(up, 30_000);
        byte[] received = c.read(down.length, 30_000);
        c.close(5000);
        t.join(10_000);
        assertArrayEquals(up, got[0], "host got the guest's bytes despite loss");
        assertArrayEquals(down, received, "guest got the host's bytes despite loss");
    }

    @Test
    void respectsSmallGuestWindow() throws Exception {
        FakeGuest g = start();
        byte[] down = random(200_000, 7);
        byte[][] got = new byte[1][];
        Thread t = serve(down, got);
        GuestTcp c = new GuestTcp(g, 41001, FakeGuest.GATEWAY, server.getLocalPort());
        c.receiveWindow = 3000; // GuestTcp fails the test if anything lands beyond it
        assertTrue(c.connect(5000));
        byte[] received = c.read(down.length, 30_000);
        assertArrayEquals(down, received);
        c.close(5000);
        t.join(10_000);
    }

    @Test
    void holdsDataWhileGuestCannotReceive() throws Exception {
        FakeGuest g = start();
        byte[] down = random(500_000, 8);
        byte[][] got = new byte[1][];
        GuestTcp c = new GuestTcp(g, 41002, FakeGuest.GATEWAY, server.getLocalPort());
        Thread t = serve(down, got);
        assertTrue(c.connect(5000));
        g.receiving = false;
        Thread.sleep(300); // the backend buffers what it can, then stops reading the host socket
        g.receiving = true;
        net.guestReceiveReady();
        byte[] received = c.read(down.length, 30_000);
        assertArrayEquals(down, received);
        c.close(5000);
        t.join(10_000);
    }

    @Test
    void closedConnectionsAreForgotten() throws Exception {
        FakeGuest g = start();
        byte[][] got = new byte[1][];
        Thread t = serve(new byte[10], got);
        GuestTcp c = new GuestTcp(g, 41003, FakeGuest.GATEWAY, server.getLocalPort());
        assertTrue(c.connect(5000));
        c.write(new byte[] {1, 2, 3}, 5000);
        assertTrue(c.awaitFin(5000), "host's FIN");
        c.close(5000);
        t.join(5000);
        assertArrayEquals(new byte[] {1, 2, 3}, got[0]);
        long end = System.nanoTime() + 10_000_000_000L;
        while (net.tcpConnectionCount() != 0 && System.nanoTime() < end) Thread.sleep(50);
        assertEquals(0, net.tcpConnectionCount(), "connection released after TIME_WAIT");
    }

    @Test
    void guestResetClosesHostSocket() throws Exception {
        FakeGuest g = start();
        GuestTcp c = new GuestTcp(g, 41004, FakeGuest.GATEWAY, server.getLocalPort());
        assertTrue(c.connect(5000));
        try (Socket s = server.accept()) {
            s.setSoTimeout(5000);
            c.write(new byte[] {9}, 5000);
            assertEquals(9, s.getInputStream().read());
            g.send(g.tcp(41004, FakeGuest.GATEWAY, server.getLocalPort(), c.sequence(), 0, GuestTcp.RST, 0, new byte[0], new byte[0]));
            assertThrows(IOException.class, () -> {
                // an abortive close reaches the host peer as a reset (or as end of stream on some systems)
                if (s.getInputStream().read() == -1) throw new IOException("end of stream");
            });
        }
    }

    @Test
    void hostResetReachesGuest() throws Exception {
        FakeGuest g = start();
        GuestTcp c = new GuestTcp(g, 41005, FakeGuest.GATEWAY, server.getLocalPort());
        assertTrue(c.connect(5000));
        try (Socket s = server.accept()) {
            s.setSoLinger(true, 0); // close sends RST
        }
        long end = System.nanoTime() + 5_000_000_000L;
        while (!c.reset && System.nanoTime() < end) c.poll(10);
        assertTrue(c.reset, "guest got RST");
    }
}
