package dev.visor.net.l2;

import java.io.Closeable;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * A learning Ethernet switch on a Unix domain socket, which VMs in other processes join with
 * {@link SwitchPort} (like a VDE switch, or QEMU's socket netdev). Each connection is one port; frames
 * travel as a 4-byte big-endian length and the Ethernet frame (see the package doc).
 *
 * <pre>
 *   SwitchServer sw = SwitchServer.start(Path.of("/run/visor/lan0.sock"));
 *   sw.join();                  // until sw.close() from elsewhere, e.g. a shutdown hook
 * </pre>
 *
 * <p>Forwarding: a frame's source MAC is learned for the port it came in on (entries age out after
 * {@link #MAC_MAX_AGE_SECONDS} and are dropped when the port disconnects). Unicast to a learned MAC goes
 * only to that port; unknown unicast, broadcast and multicast flood to every other port. A frame never
 * goes back to the port it came from. A client that sends a length outside [14, 65550] is disconnected;
 * the other ports never notice. A port that does not read fast enough has its frames dropped (and
 * counted) once its output queue holds 1 MiB: a slow VM never stalls the others.
 *
 * <p>Threading: one selector thread ("visor-switch PATH") owns the ports, their queues and the MAC
 * table, so none of it is locked. Other threads only set the closing flag and read the counters
 * (volatile, written by that thread alone). {@link #close}, {@link #join} and {@link #stats} may be
 * called from any thread.
 */
public final class SwitchServer implements Closeable {
    /*
     * Implementation overview
     *
     * The selector thread loops: select (at most 1 s, so aged MACs are swept), then for each ready key
     * accept new ports, flush writable ports, read readable ones. A read appends to the port's input
     * buffer; every complete frame in it is forwarded at once. Forwarding copies the frame once, with its
     * length prefix, into a heap buffer; a flood hands each destination a duplicate() view of it. A
     * destination's queue of such buffers is written with gathering writes when the socket is writable
     * (OP_WRITE is set only while the queue is non-empty). Ports are disconnected only from the key
     * handler, never while a flood iterates the port list.
     */

    /** Idle MAC table entries are forgotten after this long, as on hardware switches. */
    public static final long MAC_MAX_AGE_SECONDS = 300;
    /** Per-port output queue limit: what a stalled VM can make the switch hold before its frames are dropped. */
    static final int QUEUE_BYTES = 1 << 20;
    /** At most this many ports: a runaway client cannot exhaust the switch's file descriptors. */
    static final int MAX_PORTS = 1024;
    /** MAC table limit (see {@link MacTable}). */
    private static final int MAX_MACS = 4096;
    /** Buffers per gathering write. */
    private static final int GATHER = 64;
    /** Selector wake-up period, for sweeping aged MAC entries. */
    private static final long SWEEP_MILLIS = 1000;

    /**
     * The switch's counters at one moment.
     *
     * @param ports     connected ports
     * @param forwarded frames sent to exactly one (learned) port
     * @param flooded   frames flooded to all other ports, counted once per incoming frame
     * @param dropped   frame copies dropped because a destination's output queue was full
     * @param badFrames clients disconnected for sending a length outside [14, 65550]
     * @param macs      learned MAC addresses
     */
    public record Stats(int ports, long forwarded, long flooded, long dropped, long badFrames, int macs) { }

    /** One connected client. Touched only by the selector thread. */
    private static final class Port {
        /** The client's socket, non-blocking. */
        final SocketChannel channel;
        /** Bytes read from the client, in write mode between reads. */
        final ByteBuffer in = ByteBuffer.allocateDirect(Framing.BUFFER);
        /** Length-prefixed frames waiting to be written, each a view of a shared copy. */
        final ArrayDeque<ByteBuffer> out = new ArrayDeque<>();
        /** Sum of the sizes of the buffers in {@link #out}. */
        int outBytes;
        /** The channel's registration. */
        SelectionKey key;

        Port(SocketChannel channel) {
            this.channel = channel;
        }
    }

    // ---- set up once ----
    /** The socket file, as given. */
    private final Path path;
    /** The listening socket. */
    private final ServerSocketChannel server;
    private final Selector selector;
    /** Identity (device, inode) of the socket file we bound, so close() never deletes a successor's file. */
    private final Object fileKey;
    private final Thread thread;

    // ---- selector thread only ----
    private final ArrayList<Port> ports = new ArrayList<>();
    private final MacTable<Port> macs = new MacTable<>(MAX_MACS, TimeUnit.SECONDS.toNanos(MAC_MAX_AGE_SECONDS));
    /** Scratch array for gathering writes. */
    private final ByteBuffer[] gather = new ByteBuffer[GATHER];

    // ---- shared: written by the selector thread, read by anyone ----
    private volatile int portCount;
    private volatile int macCount;
    private volatile long forwarded;
    private volatile long flooded;
    private volatile long dropped;
    private volatile long badFrames;
    /** Set by close(); the selector thread then shuts everything down. */
    private volatile boolean closing;

    private SwitchServer(Path path, ServerSocketChannel server, Selector selector, Object fileKey) {
        this.path = path;
        this.server = server;
        this.selector = selector;
        this.fileKey = fileKey;
        this.thread = new Thread(this::run, "visor-switch " + path);
        this.thread.setDaemon(true);
    }

    /**
     * Starts a switch listening on {@code socketPath}. A stale socket file (nobody answers on it) is
     * replaced; if a switch answers there, or the path is not a socket, this fails with a one-line message.
     */
    public static SwitchServer start(Path socketPath) throws IOException {
        Objects.requireNonNull(socketPath, "socketPath");
        clearStale(socketPath);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        boolean bound = false;
        try {
            server.bind(UnixDomainSocketAddress.of(socketPath));
            bound = true;
            server.configureBlocking(false);
            Object fileKey = Files.readAttributes(socketPath, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
            Selector selector = Selector.open();
            server.register(selector, SelectionKey.OP_ACCEPT);
            SwitchServer sw = new SwitchServer(socketPath, server, selector, fileKey);
            sw.thread.start();
            return sw;
        } catch (IOException e) {
            server.close();
            if (bound) {
                Files.deleteIfExists(socketPath);
            }
            throw new IOException("cannot start switch at " + socketPath + ": " + e.getMessage(), e);
        }
    }

    /** Refuses a path held by a live switch or by a non-socket file; deletes a dead socket file. */
    private static void clearStale(Path path) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (!isSocket(path)) {
            throw new IOException("cannot start switch at " + path + ": the path exists and is not a socket; remove it or choose another");
        }
        boolean live;
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
            live = true;
        } catch (IOException e) {
            live = false;
        }
        if (live) {
            throw new IOException("a switch is already running at " + path + ": stop it or choose another path");
        }
        Files.deleteIfExists(path);
    }

    private static boolean isSocket(Path path) throws IOException {
        try {
            int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            return (mode & 0170000) == 0140000; // S_IFMT == S_IFSOCK
        } catch (UnsupportedOperationException | IllegalArgumentException e) {
            return !Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS) && !Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS);
        }
    }

    /** The socket file clients connect to. */
    public Path socketPath() {
        return path;
    }

    /** The counters now (any thread). */
    public Stats stats() {
        return new Stats(portCount, forwarded, flooded, dropped, badFrames, macCount);
    }

    /** Blocks until the switch has stopped (after {@link #close}) and its socket file is gone. */
    public void join() throws InterruptedException {
        thread.join();
    }

    /** Stops the switch: disconnects every port, closes the socket and deletes its file. Idempotent. */
    @Override
    public void close() {
        closing = true;
        selector.wakeup();
        if (Thread.currentThread() == thread) {
            return;
        }
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------- selector thread

    private void run() {
        try {
            long nextSweep = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(SWEEP_MILLIS);
            while (!closing) {
                selector.select(this::handle, SWEEP_MILLIS);
                long now = System.nanoTime();
                if (now - nextSweep >= 0) {
                    macs.expire(now);
                    macCount = macs.size();
                    nextSweep = now + TimeUnit.MILLISECONDS.toNanos(SWEEP_MILLIS);
                }
            }
        } catch (IOException e) {
            // the selector itself failed: nothing to do but shut down
        } finally {
            shutDown();
        }
    }

    private void handle(SelectionKey key) {
        if (!key.isValid()) {
            return;
        }
        if (key.isAcceptable()) {
            accept();
            return;
        }
        Port port = (Port) key.attachment();
        try {
            if (key.isWritable()) {
                flush(port);
            }
            if (key.isValid() && key.isReadable()) {
                read(port);
            }
        } catch (IOException e) {
            disconnect(port);
        }
    }

    private void accept() {
        try {
            SocketChannel ch;
            while ((ch = server.accept()) != null) {
                if (ports.size() >= MAX_PORTS) {
                    ch.close();
                    continue;
                }
                ch.configureBlocking(false);
                Port port = new Port(ch);
                port.key = ch.register(selector, SelectionKey.OP_READ, port);
                ports.add(port);
                portCount = ports.size();
            }
        } catch (IOException e) {
            // a client that vanished mid-accept: ignore it
        }
    }

    /** Reads what the port has sent and forwards every complete frame. */
    private void read(Port port) throws IOException {
        ByteBuffer in = port.in;
        if (port.channel.read(in) < 0) {
            disconnect(port);
            return;
        }
        in.flip();
        for (;;) {
            int len = Framing.complete(in);
            if (len == Framing.NEED_MORE) {
                break;
            }
            if (len == Framing.BAD) {
                badFrames++;
                disconnect(port);
                return;
            }
            int start = in.position() + Framing.HEADER;
            forward(port, in, start, len);
            in.position(start + len);
        }
        in.compact();
    }

    /** Learns the source and queues the frame {@code buf[off..off+len)} for its destination port(s). */
    private void forward(Port src, ByteBuffer buf, int off, int len) {
        long now = System.nanoTime();
        long srcMac = Framing.mac(buf, off + 6);
        if (!Framing.isMulticast(srcMac)) {
            macs.learn(srcMac, src, now);
            macCount = macs.size();
        }
        long dstMac = Framing.mac(buf, off);
        Port dst = Framing.isMulticast(dstMac) ? null : macs.lookup(dstMac, now);
        if (dst == src) {
            return; // the destination sits behind the port the frame came from: filter it
        }
        if (dst == null && ports.size() < 2) {
            flooded++;
            return;
        }
        ByteBuffer copy = ByteBuffer.allocate(Framing.HEADER + len);
        copy.putInt(0, len).put(Framing.HEADER, buf, off, len);
        if (dst != null) {
            forwarded++;
            enqueue(dst, copy);
            return;
        }
        flooded++;
        for (Port p : ports) {
            if (p != src) {
                enqueue(p, copy.duplicate());
            }
        }
    }

    private void enqueue(Port port, ByteBuffer frame) {
        int size = frame.remaining();
        if (port.outBytes + size > QUEUE_BYTES) {
            dropped++;
            return;
        }
        port.out.add(frame);
        port.outBytes += size;
        if (port.out.size() == 1) {
            port.key.interestOps(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
        }
    }

    /** Writes as much of the port's queue as its socket takes. */
    private void flush(Port port) throws IOException {
        ArrayDeque<ByteBuffer> out = port.out;
        while (!out.isEmpty()) {
            int n = 0;
            for (ByteBuffer b : out) {
                gather[n++] = b;
                if (n == GATHER) {
                    break;
                }
            }
            port.channel.write(gather, 0, n);
            Arrays.fill(gather, 0, n, null);
            int done = 0;
            while (!out.isEmpty() && !out.peekFirst().hasRemaining()) {
                port.outBytes -= out.pollFirst().capacity();
                done++;
            }
            if (done < n) {
                break; // the socket is full: wait for OP_WRITE
            }
        }
        if (out.isEmpty()) {
            port.key.interestOps(SelectionKey.OP_READ);
        }
    }

    private void disconnect(Port port) {
        if (!ports.remove(port)) {
            return;
        }
        port.key.cancel();
        closeQuietly(port.channel);
        port.out.clear();
        macs.forget(port);
        macCount = macs.size();
        portCount = ports.size();
    }

    /** Runs on the selector thread as it exits. */
    private void shutDown() {
        for (Port port : ports) {
            closeQuietly(port.channel);
        }
        ports.clear();
        portCount = 0;
        closeQuietly(server);
        closeQuietly(selector);
        try {
            BasicFileAttributes now = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (Objects.equals(now.fileKey(), fileKey)) {
                Files.deleteIfExists(path);
            }
        } catch (IOException e) {
            // already gone, or not ours to delete
        }
    }

    private static void closeQuietly(Closeable c) {
        try {
            c.close();
        } catch (IOException e) {
            // closing a socket: nothing useful to do
        }
    }
}
