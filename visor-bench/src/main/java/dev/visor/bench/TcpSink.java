package dev.visor.bench;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A TCP server on 127.0.0.1 that takes connections one at a time, reads each to its end, and
 * reports how many bytes came, how many of them were not zero, and when the first and the last
 * arrived; then it closes the connection (so a sender waiting for the other side to close, like
 * busybox {@code nc}, exits).
 *
 * <p>The throughput of one connection is taken from the transfer itself: the bytes after the first
 * read over the time from the first read to the last, which leaves out connection set-up and the
 * sender's start-up and exit.
 */
final class TcpSink implements AutoCloseable {
    /** One connection's figures; times are System.nanoTime() values. */
    record Transfer(long bytes, long nonZeroBytes, long firstReadBytes, long firstNanos, long lastNanos) {
        /** Megabytes (10^6 bytes) per second from first byte to last; NaN when too little came to time. */
        double megabytesPerSecond() {
            long span = lastNanos - firstNanos;
            return span <= 0 ? Double.NaN : (bytes - firstReadBytes) / (span / 1e9) / 1e6;
        }

        double seconds() {
            return (lastNanos - firstNanos) / 1e9;
        }
    }

    private final ServerSocket server;
    private final BlockingQueue<Transfer> done = new LinkedBlockingQueue<>();

    /** Listens on 127.0.0.1 on a port the system picks ({@link #port()}). */
    TcpSink() throws IOException {
        server = new ServerSocket(0, 4, InetAddress.getLoopbackAddress());
        Thread.ofPlatform().daemon().name("tcp-sink").start(this::acceptLoop);
    }

    int port() {
        return server.getLocalPort();
    }

    /** Forgets transfers that ended before now (e.g. a stray earlier connection). */
    void clear() {
        done.clear();
    }

    /** The next finished transfer, or null if none ends within {@code seconds}. */
    Transfer next(long seconds) throws InterruptedException {
        return done.poll(seconds, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws IOException {
        server.close();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try (Socket s = server.accept()) {
                s.setReceiveBufferSize(1 << 20);
                done.add(drain(s.getInputStream()));
            } catch (SocketException e) {
                if (server.isClosed()) return;
            } catch (IOException e) {
                // that connection failed; the benchmark notices the missing transfer
            }
        }
    }

    private static Transfer drain(InputStream in) throws IOException {
        byte[] buf = new byte[1 << 16];
        long bytes = 0, nonZero = 0, firstReadBytes = 0, first = 0, last = 0;
        int n;
        while ((n = in.read(buf)) > 0) {
            long now = System.nanoTime();
            if (bytes == 0) {
                first = now;
                firstReadBytes = n;
            }
            last = now;
            bytes += n;
            for (int i = 0; i < n; i++) {
                if (buf[i] != 0) nonZero++;
            }
        }
        return new Transfer(bytes, nonZero, firstReadBytes, first, last);
    }
}
