package dev.visor.daemon.vm;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The serial console of one running VM as the daemon serves it: a connection to the VMM's console
 * socket ({@code visor run --serial-socket}), the last {@link #CAPACITY} bytes in a ring buffer for
 * viewers who attach later, and any number of viewers. The VMM keeps the full history in its
 * console log; the ring starts from that log's tail, so a daemon that restarted still has scroll-back.
 */
public final class ConsoleHub implements AutoCloseable {
    public static final int CAPACITY = 64 * 1024;

    private final Path socket;
    private final byte[] ring = new byte[CAPACITY];
    private long written; // bytes ever put in the ring
    private final CopyOnWriteArrayList<Consumer<byte[]>> viewers = new CopyOnWriteArrayList<>();
    private volatile SocketChannel channel;
    private volatile boolean closed;

    private ConsoleHub(Path socket) {
        this.socket = socket;
    }

    /**
     * Starts following the console at {@code socket}; {@code log} (may not exist yet) seeds the
     * scroll-back. Connecting is retried in the background until the VMM has made its socket.
     */
    public static ConsoleHub follow(Path socket, Path log) {
        ConsoleHub hub = new ConsoleHub(socket);
        hub.seed(log);
        Thread.ofVirtual().name("console-" + socket.getParent().getFileName()).start(hub::readLoop);
        return hub;
    }

    private void seed(Path log) {
        // the log's directory is writable by the VMM's user: never follow a link planted there
        if (log == null || !Files.isRegularFile(log, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return;
        try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
            long len = f.length();
            int n = (int) Math.min(len, CAPACITY);
            byte[] tail = new byte[n];
            f.seek(len - n);
            f.readFully(tail);
            append(tail, n);
        } catch (IOException ignored) {
            // no scroll-back from before: live output still flows
        }
    }

    private void readLoop() {
        ByteBuffer buf = ByteBuffer.allocate(8192);
        while (!closed) {
            try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                if (Files.isSymbolicLink(socket)) throw new IOException("a link, not the VMM's socket");
                ch.connect(UnixDomainSocketAddress.of(socket));
                channel = ch;
                while (!closed) {
                    buf.clear();
                    int n = ch.read(buf);
                    if (n < 0) break;
                    publish(java.util.Arrays.copyOf(buf.array(), n));
                }
            } catch (IOException e) {
                // not there yet (VMM starting) or gone (VMM exited): try again shortly unless closed
            } finally {
                channel = null;
            }
            if (closed) return;
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Under the lock {@link #attach} takes, so a new viewer sees each byte exactly once. */
    private synchronized void publish(byte[] chunk) {
        append(chunk, chunk.length);
        for (Consumer<byte[]> v : viewers) v.accept(chunk);
    }

    private synchronized void append(byte[] b, int n) {
        for (int i = 0; i < n; i++) ring[(int) ((written + i) % CAPACITY)] = b[i];
        written += n;
    }

    /** The last {@code max} bytes of output (at most {@link #CAPACITY}). */
    public synchronized byte[] scrollback(int max) {
        int n = (int) Math.min(Math.min(written, CAPACITY), Math.max(0, max));
        byte[] out = new byte[n];
        long start = written - n;
        for (int i = 0; i < n; i++) out[i] = ring[(int) ((start + i) % CAPACITY)];
        return out;
    }

    /**
     * Adds a viewer: it gets the scroll-back at once, then every chunk of output as it comes, on
     * the hub's reader thread, so it must not block (hand off to a queue if it might).
     */
    public void attach(Consumer<byte[]> viewer) {
        synchronized (this) {
            byte[] back = scrollback(CAPACITY);
            if (back.length > 0) viewer.accept(back);
            viewers.add(viewer);
        }
    }

    public void detach(Consumer<byte[]> viewer) { viewers.remove(viewer); }

    public int viewers() { return viewers.size(); }

    /** Types bytes into the console; false when the VMM's console is not connected. */
    public boolean type(byte[] bytes) {
        SocketChannel ch = channel;
        if (ch == null) return false;
        try {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            synchronized (ch) {
                while (b.hasRemaining()) ch.write(b);
            }
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** True once connected to the VMM's console socket. */
    public boolean connected() { return channel != null; }

    @Override
    public void close() {
        closed = true;
        SocketChannel ch = channel;
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }
}
