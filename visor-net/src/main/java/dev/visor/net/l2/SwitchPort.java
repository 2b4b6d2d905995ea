package dev.visor.net.l2;

import dev.visor.net.GuestPort;
import dev.visor.net.NetBackend;

import java.io.IOException;
import java.net.ConnectException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A guest NIC's connection to a {@link SwitchServer}, possibly in another process.
 *
 * <pre>
 *   NetBackend net = SwitchPort.connect(Path.of("/run/visor/lan0.sock"));
 *   net.start(guestPort);
 * </pre>
 *
 * <p>Frames the guest sends are copied into a bounded queue (512 frames); when the switch
 * does not keep up the queue fills and further frames are dropped and counted, so {@link #send} never
 * blocks. Frames from the switch are held back (not read) while the guest has no receive buffers, which
 * pushes the loss to the switch's per-port queue where it is counted. If the switch goes away the port
 * stays disconnected: frames are dropped, {@link #isConnected} turns false; there is no reconnect.
 *
 * <p>Threading: {@link #start} spawns two daemon threads: a reader ("visor-switchport-rx") that does
 * blocking reads and calls {@link GuestPort#receive}, and a writer ("visor-switchport-tx") that drains
 * the queue with blocking writes. {@link #send}, {@link #guestReceiveReady} and {@link #close} may be
 * called from any thread.
 */
public final class SwitchPort implements NetBackend {
    /** Guest frames waiting for the writer; a virtio-net TX ring is usually 256 entries, this holds two rings' worth. */
    static final int TX_QUEUE_FRAMES = 512;
    /** Writer staging buffer: many small frames go out in one write(2). */
    private static final int TX_BUFFER = 256 * 1024;
    /** How long the reader sleeps between looks at a guest with no receive buffers (guestReceiveReady wakes it sooner). */
    private static final long GUEST_WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    /** How long close() waits for each thread. */
    private static final long JOIN_MILLIS = 2000;

    /** The switch's socket file, for messages. */
    private final Path path;
    /** Blocking stream socket to the switch. */
    private final SocketChannel channel;
    /** Length-prefixed copies of guest frames, for the writer. */
    private final ArrayBlockingQueue<byte[]> txQueue = new ArrayBlockingQueue<>(TX_QUEUE_FRAMES);
    /** Guest frames dropped because the queue was full or the switch was gone. */
    private final AtomicLong txDropped = new AtomicLong();
    /** Switch frames the guest refused (GuestPort.receive returned false). Written by the reader only. */
    private volatile long rxDropped;
    /** False once the switch closed the connection or an I/O error happened. */
    private volatile boolean connected = true;
    private volatile boolean closed;
    private GuestPort guest;
    private Thread reader;
    private Thread writer;

    private SwitchPort(Path path, SocketChannel channel) {
        this.path = path;
        this.channel = channel;
    }

    /** Connects to the switch at {@code socketPath}; fails with a one-line message if none listens there. */
    public static SwitchPort connect(Path socketPath) throws IOException {
        SocketChannel ch;
        try {
            ch = SocketChannel.open(UnixDomainSocketAddress.of(socketPath));
        } catch (IOException e) {
            if (e instanceof ConnectException || !Files.exists(socketPath)) {
                throw new IOException("no switch at " + socketPath + ": start one with `visor switch " + socketPath + "`", e);
            }
            throw new IOException("cannot connect to switch at " + socketPath + ": " + e.getMessage(), e);
        }
        return new SwitchPort(socketPath, ch);
    }

    @Override
    public synchronized void start(GuestPort guest) throws IOException {
        if (this.guest != null) {
            throw new IllegalStateException("SwitchPort already started");
        }
        if (closed) {
            throw new IOException("switch port to " + path + " is closed");
        }
        this.guest = guest;
        reader = Thread.ofPlatform().daemon().name("visor-switchport-rx " + path).start(this::readLoop);
        writer = Thread.ofPlatform().daemon().name("visor-switchport-tx " + path).start(this::writeLoop);
    }

    /** Copies the frame into the queue, or drops it (queue full, switch gone, malformed). Never blocks. */
    @Override
    public void send(ByteBuffer frame) {
        int len = frame.remaining();
        if (!Framing.validLength(len)) {
            return;
        }
        if (closed || !connected) {
            txDropped.incrementAndGet();
            return;
        }
        byte[] b = new byte[Framing.HEADER + len];
        b[0] = (byte) (len >>> 24);
        b[1] = (byte) (len >>> 16);
        b[2] = (byte) (len >>> 8);
        b[3] = (byte) len;
        frame.get(frame.position(), b, Framing.HEADER, len);
        if (!txQueue.offer(b)) {
            txDropped.incrementAndGet();
        }
    }

    @Override
    public void guestReceiveReady() {
        Thread r = reader;
        if (r != null) {
            LockSupport.unpark(r);
        }
    }

    /** False once the switch has gone away (or this port was closed). */
    public boolean isConnected() {
        return connected && !closed;
    }

    /** Guest frames dropped because the send queue was full or the switch was gone. */
    public long txDropped() {
        return txDropped.get();
    }

    /** Frames from the switch that the guest refused. */
    public long rxDropped() {
        return rxDropped;
    }

    /** Disconnects from the switch and stops both threads. Idempotent. */
    @Override
    public void close() throws IOException {
        Thread r;
        Thread w;
        synchronized (this) {
            closed = true;
            r = reader;
            w = writer;
        }
        channel.close(); // wakes the reader's blocking read
        if (w != null) {
            w.interrupt(); // wakes the writer's take()
        }
        join(r);
        join(w);
    }

    private static void join(Thread t) {
        if (t == null || t == Thread.currentThread()) {
            return;
        }
        try {
            t.join(JOIN_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------- reader thread

    private void readLoop() {
        ByteBuffer in = ByteBuffer.allocateDirect(Framing.BUFFER);
        try {
            while (!closed) {
                if (channel.read(in) < 0) {
                    break;
                }
                in.flip();
                for (;;) {
                    int len = Framing.complete(in);
                    if (len == Framing.NEED_MORE) {
                        break;
                    }
                    if (len == Framing.BAD) {
                        throw new IOException("switch sent a bad frame length"); // not a switch after all
                    }
                    int start = in.position() + Framing.HEADER;
                    deliver(in.slice(start, len));
                    in.position(start + len);
                }
                in.compact();
            }
        } catch (IOException e) {
            // closed by close(), or the switch broke the connection: either way this port is done
        } finally {
            connected = false;
        }
    }

    private void deliver(ByteBuffer frame) {
        while (!guest.canReceive() && !closed) {
            LockSupport.parkNanos(this, GUEST_WAIT_NANOS);
        }
        if (!closed && !guest.receive(frame)) {
            rxDropped++;
        }
    }

    // ---------------------------------------------------------------- writer thread

    private void writeLoop() {
        ByteBuffer out = ByteBuffer.allocateDirect(TX_BUFFER);
        try {
            while (!closed) {
                byte[] f = txQueue.take();
                out.clear();
                while (f != null) {
                    if (out.remaining() < f.length) {
                        writeFully(out);
                    }
                    out.put(f);
                    f = txQueue.poll();
                }
                writeFully(out);
            }
        } catch (IOException | InterruptedException e) {
            // closed by close(), or the switch went away
        } finally {
            connected = false;
            txDropped.addAndGet(txQueue.size());
            txQueue.clear();
        }
    }

    /** Writes {@code out}'s contents (write mode) and clears it. */
    private void writeFully(ByteBuffer out) throws IOException {
        out.flip();
        while (out.hasRemaining()) {
            channel.write(out);
        }
        out.clear();
    }
}
