package dev.visor.vmm;

import java.io.IOException;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;

/**
 * The serial console on a Unix socket ({@code visor run --serial-socket PATH}), for a supervisor or
 * a person to attach to and detach from while the VM runs on. Any number of clients at once: each
 * receives the console output from the moment it connects, and what any of them sends is typed into
 * the console.
 *
 * <p>The guest never waits for a client. Console output (this stream, written by the UART under its
 * lock) is copied into each client's own buffer of {@value #CLIENT_BUFFER} bytes and sent from
 * there by that client's thread; a client that falls further behind (stuck, or reading too slowly)
 * is disconnected rather than slowing the guest or growing without bound. A client that closes its
 * sending side is disconnected too, so a client that went away never holds its buffer for long.
 *
 * <pre>
 *   ConsoleSocket s = ConsoleSocket.open(path);   // the socket file is 0600; a stale one is replaced
 *   VirtualMachine vm = VirtualMachine.build(spec, s);
 *   s.attach(vm::consoleInput);                   // until then, what clients send waits
 *   ...
 *   s.close();                                    // clients get what is buffered (up to a second), then EOF
 * </pre>
 */
public final class ConsoleSocket extends OutputStream {
    /** How far (bytes) a client may fall behind the console before it is disconnected. */
    public static final int CLIENT_BUFFER = 1 << 20;
    /** Most bytes handed to one socket write, so the space frees up as a large backlog goes out. */
    private static final int MAX_SEND = 64 << 10;
    /** How long {@link #close} lets clients take what is still buffered for them. */
    private static final long CLOSE_GRACE_MS = 1000;

    /** Where bytes sent by clients go: the VM's console input. May block (the UART applies backpressure). */
    public interface Input {
        void type(byte[] data, int off, int len);
    }

    private final Path path;
    private final ServerSocketChannel server;
    private final int clientBuffer;
    /** The connected clients; replaced, never changed, so the console writer walks it without a lock or an iterator. */
    private volatile Client[] clients = new Client[0];
    private volatile Input input;
    /** Opens once {@link #attach} gave the input: until then what clients send waits (in their sockets). */
    private final java.util.concurrent.CountDownLatch attached = new java.util.concurrent.CountDownLatch(1);
    private final byte[] one = new byte[1];
    private volatile boolean closed;

    private ConsoleSocket(Path path, ServerSocketChannel server, int clientBuffer) {
        this.path = path;
        this.server = server;
        this.clientBuffer = clientBuffer;
    }

    /** Listens on {@code path}; the error names the path. */
    public static ConsoleSocket open(Path path) throws IOException {
        return open(path, CLIENT_BUFFER);
    }

    /** As {@link #open(Path)} with another per-client buffer size (a power of two), for tests. */
    static ConsoleSocket open(Path path, int clientBuffer) throws IOException {
        if (Integer.bitCount(clientBuffer) != 1) throw new IllegalArgumentException("the client buffer must be a power of two");
        ServerSocketChannel server = listen(path);
        ConsoleSocket s = new ConsoleSocket(path, server, clientBuffer);
        Thread.ofVirtual().name("visor-serial-accept").start(s::acceptLoop);
        return s;
    }

    /**
     * Binds {@code path}, readable and writable by this user only. A socket file left by a VMM that
     * ended is replaced; one that a live process still serves, or a file that is no socket, is not.
     */
    private static ServerSocketChannel listen(Path path) throws IOException {
        String name = "--serial-socket " + path;
        if (Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS) || Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException(name + ": exists and is not a socket");
        }
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                probe.connect(UnixDomainSocketAddress.of(path));
                throw new IOException(name + ": in use (another VM's console?)");
            } catch (java.net.SocketException | java.nio.file.FileSystemException stale) {
                try {
                    Files.deleteIfExists(path); // nobody listens: left by a VMM that ended
                } catch (IOException e) {
                    throw new IOException(name + ": cannot replace the old socket file: " + e.getMessage(), e);
                }
            }
        }
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            server.bind(UnixDomainSocketAddress.of(path));
            try {
                Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
            } catch (UnsupportedOperationException ignored) {
                // not a POSIX file system: the directory's permissions have to do
            }
        } catch (IOException e) {
            server.close();
            throw new IOException(name + ": " + (e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName()), e);
        }
        return server;
    }

    /** Sends what clients type to {@code input} from now on, starting with what they sent before. */
    public void attach(Input input) {
        this.input = input;
        attached.countDown();
    }

    /** How many clients are connected. */
    public int clientCount() { return clients.length; }

    // ---------------------------------------------------------------- console output (the guest's side)

    @Override
    public void write(int b) {
        synchronized (one) {
            one[0] = (byte) b;
            write(one, 0, 1);
        }
    }

    /** Copies {@code len} bytes into every client's buffer; never blocks on a client. */
    @Override
    public void write(byte[] b, int off, int len) {
        for (Client c : clients) c.offer(b, off, len);
    }

    // ---------------------------------------------------------------- clients

    private void acceptLoop() {
        while (!closed) {
            SocketChannel channel;
            try {
                channel = server.accept();
            } catch (IOException e) {
                return; // closed
            }
            Client c = new Client(channel, clientBuffer);
            synchronized (this) {
                if (closed) {
                    c.closeChannel();
                    return;
                }
                Client[] next = Arrays.copyOf(clients, clients.length + 1);
                next[next.length - 1] = c;
                clients = next;
            }
            c.sender = Thread.ofVirtual().name("visor-serial-send").start(() -> c.sendLoop());
            Thread.ofVirtual().name("visor-serial-receive").start(() -> receiveLoop(c));
        }
    }

    /**
     * Types what the client sends into the console until it stops sending (EOF) or goes away. Before
     * the VM exists (a restore, an incoming migration) the bytes wait: a client that connects as soon
     * as the socket appears and types at once loses nothing.
     */
    private void receiveLoop(Client c) {
        byte[] buf = new byte[4096];
        ByteBuffer bb = ByteBuffer.wrap(buf);
        try {
            int n;
            while ((n = c.channel.read(bb.clear())) > 0) {
                attached.await();
                Input in = input;
                if (in == null) break; // closed before a VM was attached
                in.type(buf, 0, n);
            }
        } catch (IOException | InterruptedException e) {
            // the client went away, was disconnected, or the console closed
        }
        drop(c);
    }

    /** Forgets {@code c} and closes its connection. Not on the console writer's thread: a close may wait for a blocked send. */
    private void drop(Client c) {
        synchronized (this) {
            int i = Arrays.asList(clients).indexOf(c);
            if (i >= 0) {
                Client[] next = new Client[clients.length - 1];
                System.arraycopy(clients, 0, next, 0, i);
                System.arraycopy(clients, i + 1, next, i, next.length - i);
                clients = next;
            }
        }
        c.closeChannel();
    }

    /**
     * Stops taking clients and removes the socket file; then gives each client up to a second in all
     * to take what is still buffered for it (the guest's last words), and disconnects it.
     */
    @Override
    public void close() {
        Client[] last;
        synchronized (this) {
            if (closed) return;
            closed = true;
            last = clients;
        }
        attached.countDown(); // lets receivers that wait for a VM that never came end
        try {
            server.close();
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // the socket file is gone already
        }
        for (Client c : last) c.finish();
        long end = System.nanoTime() + CLOSE_GRACE_MS * 1_000_000;
        for (Client c : last) {
            long left = (end - System.nanoTime()) / 1_000_000;
            Thread t = c.sender;
            try {
                if (t != null && left > 0) t.join(left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        for (Client c : last) drop(c);
    }

    /**
     * One client: a ring buffer the console writer fills and the client's sender thread empties. The
     * two counters only grow; their difference is what is buffered.
     */
    private final class Client {
        final SocketChannel channel;
        final byte[] ring;
        final int mask;
        /** The ring, for writes straight from it to the socket (no copy, no allocation per send). */
        final ByteBuffer view;
        volatile Thread sender;
        /** Bytes put in / sent, since the client connected; guarded by this. */
        private long in, out;
        /** The sender waits for output. */
        private boolean waiting;
        /** Overflowed or went away: takes nothing more. */
        private boolean gone;
        /** The console is closing: send what is buffered, then stop. */
        private boolean finishing;
        private boolean channelClosed;

        Client(SocketChannel channel, int size) {
            this.channel = channel;
            ring = new byte[size];
            mask = size - 1;
            view = ByteBuffer.wrap(ring);
        }

        /** Called by the console writer: copies the bytes in, or drops the client if they do not fit. */
        void offer(byte[] b, int off, int len) {
            synchronized (this) {
                if (gone) return;
                if (in - out + len > ring.length) {
                    gone = true;
                    notifyAll();
                } else {
                    int at = (int) (in & mask);
                    int first = Math.min(len, ring.length - at);
                    System.arraycopy(b, off, ring, at, first);
                    System.arraycopy(b, off + first, ring, 0, len - first);
                    in += len;
                    if (waiting) notifyAll();
                    return;
                }
            }
            // rare: the client is stuck; a thread of its own closes it, so the guest does not wait for that
            Thread.ofVirtual().start(() -> {
                System.err.println("visor: --serial-socket: disconnected a client that fell more than "
                        + ring.length / 1024 + " KiB behind the console");
                drop(this);
            });
        }

        void sendLoop() {
            try {
                while (true) {
                    int at, n;
                    synchronized (this) {
                        while (in == out && !gone && !finishing) {
                            waiting = true;
                            wait();
                            waiting = false;
                        }
                        if (gone || in == out) return; // overflowed, or closing with nothing left to send
                        at = (int) (out & mask);
                        n = (int) Math.min(Math.min(in - out, ring.length - at), MAX_SEND);
                    }
                    view.limit(at + n).position(at);
                    while (view.hasRemaining()) {
                        int sent = channel.write(view);
                        synchronized (this) {
                            out += sent; // frees the space at once: a client that keeps up never looks behind
                        }
                    }
                }
            } catch (IOException | InterruptedException e) {
                // the client went away, or was disconnected
            } finally {
                synchronized (this) {
                    gone = true;
                }
                drop(this);
            }
        }

        synchronized void finish() {
            finishing = true;
            notifyAll();
        }

        void closeChannel() {
            synchronized (this) {
                gone = true;
                notifyAll();
                if (channelClosed) return;
                channelClosed = true;
            }
            try {
                channel.close();
            } catch (IOException ignored) {
                // closing a socket the client may have closed already
            }
        }
    }
}
