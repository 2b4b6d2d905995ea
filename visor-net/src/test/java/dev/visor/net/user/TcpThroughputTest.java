package dev.visor.net.user;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Guest-to-host bulk TCP with frames built beforehand, so the measured time is mostly the backend's:
 * prints MB/s. Asserts only that every byte arrived (machines vary too much for a speed floor).
 */
@Timeout(120)
class TcpThroughputTest {
    private static final int MSS = 1460;
    private static final int SEGMENTS = 32 * 1024; // about 46 MiB

    @Test
    void guestToHostBulk() throws Exception {
        UserNetwork net = new UserNetwork(UserNetworkConfig.defaults());
        FakeGuest g = new FakeGuest(net);
        net.start(g);
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            AtomicLong got = new AtomicLong();
            Thread reader = Thread.ofPlatform().start(() -> {
                try (Socket s = server.accept(); InputStream in = s.getInputStream()) {
                    byte[] buf = new byte[256 * 1024];
                    for (int n; (n = in.read(buf)) > 0; ) got.addAndGet(n);
                } catch (Exception ignored) {
                    // the byte count reports it
                }
            });
            GuestTcp c = new GuestTcp(g, 42000, FakeGuest.GATEWAY, server.getLocalPort());
            assertTrue(c.connect(5000));
            int base = c.sequence();
            byte[] payload = new byte[MSS];
            byte[][] frames = new byte[SEGMENTS][];
            for (int i = 0; i < SEGMENTS; i++) {
                payload[0] = (byte) i;
                frames[i] = g.tcp(42000, FakeGuest.GATEWAY, server.getLocalPort(), base + i * MSS, c.ackNumber(),
                        GuestTcp.ACK, 2048, new byte[0], payload);
            }
            long start = System.nanoTime();
            int next = 0, acked = 0;
            long window = 65535;
            long lastProgress = System.nanoTime();
            while (acked < SEGMENTS) {
                while (next < SEGMENTS && (long) (next - acked) * MSS + MSS <= window) g.send(frames[next++]);
                byte[] f = g.received.poll(1, TimeUnit.MILLISECONDS);
                if (f != null && f.length >= 54 && f[23] == 6 && (f[47] & GuestTcp.ACK) != 0) {
                    int ack = FakeGuest.i32(f, 42);
                    int segs = (ack - base) / MSS;
                    if (segs > acked) {
                        acked = segs;
                        lastProgress = System.nanoTime();
                    }
                    window = (long) FakeGuest.u16(f, 48) << c.peerShift();
                } else if (System.nanoTime() - lastProgress > 200_000_000L) {
                    next = acked; // go back N after a queue overflow
                    lastProgress = System.nanoTime();
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            g.send(g.tcp(42000, FakeGuest.GATEWAY, server.getLocalPort(), base + SEGMENTS * MSS, c.ackNumber(),
                    GuestTcp.ACK | GuestTcp.FIN, 2048, new byte[0], new byte[0]));
            reader.join(10_000);
            assertEquals((long) SEGMENTS * MSS, got.get(), "bytes the host received");
            System.out.printf("user network TCP guest->host: %.0f MB/s (%d MiB in %.2f s)%n",
                    SEGMENTS * (double) MSS / 1e6 / seconds, (long) SEGMENTS * MSS >> 20, seconds);
        } finally {
            net.close();
        }
    }
}
