package dev.visor.net.l2;

import dev.visor.net.GuestPort;
import dev.visor.net.NetBackend;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Pattern;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A host tap device (Linux {@code /dev/net/tun} in tap mode): the guest's frames appear on a host
 * interface, which can be bridged or routed into host networks. Needs root or CAP_NET_ADMIN, or a tap
 * created beforehand for the user with {@code ip tuntap add dev NAME mode tap user $USER}.
 *
 * <pre>
 *   NetBackend net = TapBackend.open("tap0");   // one-line IOException if not allowed
 *   net.start(guestPort);
 * </pre>
 *
 * <p>A tap the kernel creates for this open (not persistent) disappears when it is closed. The
 * interface is not configured here (addresses, up/down, bridge membership): that is the host's business.
 *
 * <p>Threading: {@link #start} spawns one daemon reader thread ("visor-tap NAME") that polls the
 * device with a 100 ms timeout, reads frames and calls {@link GuestPort#receive}.
 * {@link #send} writes on the caller's thread (non-blocking fd: a full device queue drops the frame) and
 * is serialized by a lock, so it is thread-safe. {@link #close} sets a flag, waits for the reader to see
 * it at its next poll timeout, then closes the fd, so the reader never touches a closed (or reused) fd.
 */
public final class TapBackend implements NetBackend {
    /** TUNSETIFF = _IOW('T', 202, int): attach this fd to the interface named in the ifreq. */
    private static final long TUNSETIFF = 0x400454caL;
    /** ifr_flags: an Ethernet (tap) device, not an IP (tun) one. */
    private static final short IFF_TAP = 0x0002;
    /** ifr_flags: frames without the 4-byte packet-information header. */
    private static final short IFF_NO_PI = 0x1000;
    /** Interface name size with its NUL (Linux IFNAMSIZ). */
    private static final int IFNAMSIZ = 16;
    /** sizeof(struct ifreq) on 64-bit Linux: the name, then a 24-byte union whose first member is short ifr_flags. */
    private static final int IFREQ_SIZE = 40;
    /** What Linux accepts in an interface name, minus '/', ':' and whitespace; '%d' lets the kernel number it. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.%-]{0,15}");
    /** How long the reader blocks in poll(2): bounds how long {@link #close} waits for it. */
    static final int POLL_MILLIS = 100;
    /** How long the reader sleeps between looks at a guest with no receive buffers (guestReceiveReady wakes it sooner). */
    private static final long GUEST_WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    /** The tap's file descriptor; closed only by close(), after the reader has stopped. */
    private final int fd;
    /** The interface name (the kernel's choice when a pattern or empty name was given). */
    private final String name;
    /** Holds the send buffer and its errno capture; closed with the fd. */
    private final Arena arena = Arena.ofShared();
    /** Guards {@link #txBuffer}, {@link #txCapture} and the fd's closing. */
    private final Object txLock = new Object();
    /** Native copy of a guest frame for write(2). */
    private final MemorySegment txBuffer;
    private final MemorySegment txCapture;
    /** Guest frames the device refused (queue full, interface down). */
    private final AtomicLong txDropped = new AtomicLong();
    /** Host frames the guest refused. Written by the reader only. */
    private volatile long rxDropped;
    private volatile boolean closed;
    /** Under txLock: the fd has been closed. */
    private boolean fdClosed;
    private GuestPort guest;
    private Thread reader;

    private TapBackend(int fd, String name) {
        this.fd = fd;
        this.name = name;
        this.txBuffer = arena.allocate(Framing.MAX_FRAME);
        this.txCapture = arena.allocate(Libc.CAPTURE_LAYOUT);
    }

    /**
     * Opens (creating if needed) the tap interface {@code ifname}: at most 15 characters from letters,
     * digits, '-', '_', '.'; a '%d' in it, or an empty name, lets the kernel pick a free number.
     * Failures are one-line IOExceptions that say what to do.
     */
    public static TapBackend open(String ifname) throws IOException {
        if (ifname == null || !NAME.matcher(ifname).matches() || ifname.equals(".") || ifname.equals("..")) {
            throw new IOException("invalid tap interface name '" + ifname
                    + "': use at most 15 characters from letters, digits, '-', '_' and '.'");
        }
        if (!System.getProperty("os.name", "").startsWith("Linux")) {
            throw new IOException("cannot open tap device " + ifname + ": tap devices are supported on Linux only");
        }
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment capture = tmp.allocate(Libc.CAPTURE_LAYOUT);
            int fd = Libc.open(capture, tmp.allocateFrom("/dev/net/tun"), Libc.O_RDWR | Libc.O_NONBLOCK | Libc.O_CLOEXEC);
            if (fd < 0) {
                throw failure(ifname, Libc.errno(capture));
            }
            MemorySegment ifr = tmp.allocate(IFREQ_SIZE); // zeroed: the name is NUL-terminated
            byte[] nameBytes = ifname.getBytes(StandardCharsets.US_ASCII);
            MemorySegment.copy(nameBytes, 0, ifr, JAVA_BYTE, 0, nameBytes.length);
            ifr.set(JAVA_SHORT, IFNAMSIZ, (short) (IFF_TAP | IFF_NO_PI));
            if (Libc.ioctl(capture, fd, TUNSETIFF, ifr) < 0) {
                int errno = Libc.errno(capture);
                Libc.close(fd);
                throw failure(ifname, errno);
            }
            return new TapBackend(fd, ifr.getString(0, StandardCharsets.US_ASCII));
        }
    }

    private static IOException failure(String ifname, int errno) {
        String shown = ifname.isEmpty() ? "tap0" : ifname;
        String hint = switch (errno) {
            case Libc.EPERM, Libc.EACCES ->
                    " (run as root or create it with `ip tuntap add dev " + shown + " mode tap user $USER`)";
            case Libc.ENOENT, Libc.ENODEV -> " (/dev/net/tun is missing: load the tun module with `modprobe tun`)";
            case Libc.EBUSY -> " (it is already in use, by this or another process)";
            case Libc.EINVAL -> " (an interface with that name exists and is not a tap device)";
            default -> "";
        };
        return new IOException("cannot open tap device " + shown + ": " + Libc.strerror(errno) + hint);
    }

    /** The host interface's name. */
    public String name() {
        return name;
    }

    @Override
    public synchronized void start(GuestPort guest) throws IOException {
        if (this.guest != null) {
            throw new IllegalStateException("TapBackend already started");
        }
        if (closed) {
            throw new IOException("tap device " + name + " is closed");
        }
        this.guest = guest;
        reader = Thread.ofPlatform().daemon().name("visor-tap " + name).start(this::readLoop);
    }

    /** Writes the frame to the device, or drops it (malformed, device queue full, interface down). */
    @Override
    public void send(ByteBuffer frame) {
        int len = frame.remaining();
        if (!Framing.validLength(len)) {
            return;
        }
        synchronized (txLock) {
            if (fdClosed) {
                return;
            }
            MemorySegment.copy(MemorySegment.ofBuffer(frame), 0, txBuffer, 0, len);
            if (Libc.write(txCapture, fd, txBuffer, len) != len) {
                txDropped.incrementAndGet();
            }
        }
    }

    @Override
    public void guestReceiveReady() {
        Thread r = reader;
        if (r != null) {
            LockSupport.unpark(r);
        }
    }

    /** Guest frames the device refused. */
    public long txDropped() {
        return txDropped.get();
    }

    /** Host frames the guest refused. */
    public long rxDropped() {
        return rxDropped;
    }

    /** Stops the reader (within about 100 ms), then closes the device. Idempotent. */
    @Override
    public void close() {
        Thread r;
        synchronized (this) {
            closed = true;
            r = reader;
        }
        if (r != null && r != Thread.currentThread()) {
            try {
                r.join(10L * POLL_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (txLock) {
            if (!fdClosed) {
                fdClosed = true;
                Libc.close(fd);
                arena.close();
            }
        }
    }

    // ---------------------------------------------------------------- reader thread

    private void readLoop() {
        try (Arena local = Arena.ofConfined()) {
            MemorySegment buf = local.allocate(Framing.MAX_FRAME);
            MemorySegment pollfd = local.allocate(Libc.POLLFD_SIZE);
            MemorySegment capture = local.allocate(Libc.CAPTURE_LAYOUT);
            ByteBuffer view = buf.asByteBuffer();
            pollfd.set(JAVA_INT, 0, fd);
            pollfd.set(JAVA_SHORT, 4, Libc.POLLIN);
            while (!closed) {
                int ready = Libc.poll(capture, pollfd, 1, POLL_MILLIS);
                if (ready < 0 && Libc.errno(capture) != Libc.EINTR) {
                    return;
                }
                if (ready <= 0 || closed) {
                    continue;
                }
                if ((pollfd.get(JAVA_SHORT, 6) & (Libc.POLLERR | Libc.POLLHUP | Libc.POLLNVAL)) != 0) {
                    return; // the interface was deleted under us
                }
                long n = Libc.read(capture, fd, buf, buf.byteSize());
                if (n < 0) {
                    int errno = Libc.errno(capture);
                    if (errno == Libc.EINTR || errno == Libc.EAGAIN) {
                        continue;
                    }
                    return;
                }
                if (n >= Framing.MIN_FRAME) {
                    deliver(view.clear().limit((int) n));
                }
            }
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
}
