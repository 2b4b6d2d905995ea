package dev.visor.vmm.migration;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * The live-migration stream between two Visor processes, one TCP connection, big-endian.
 *
 * <pre>
 *   source                                            destination
 *   HELLO  magic "VISORMIG" u32 version u32 flags u32 len shape
 *                                                 ─▶  checks version, flags and shape (VirtualMachine.checkShape)
 *                                                  ◀─  ACCEPT | REFUSE u16 len utf8 reason   (nothing changed yet)
 *   with COPY_STORAGE: DISK / DISK_ZERO for every chunk of every writable disk,
 *            then rounds of the chunks the guest changed meanwhile
 *   round 0: PAGES for every non-zero page            (the destination's RAM starts zeroed)
 *   round n: PAGES / ZERO for pages dirtied since     (a page that became zero is sent as ZERO)
 *            [DISK / DISK_ZERO for chunks changed since]
 *            ROUND u32 n after each round
 *                                                  ◀─  ROUND_ACK u32 n once everything before it is in
 *                                                      its RAM (and disk copies): the source waits for it
 *   -- source pauses the guest --
 *   last dirty pages, [last changed chunks,] STATE u32 len bytes, DONE
 *                                                 ─▶  [flushes the disk copies;] builds the VM from RAM + state, paused
 *                                                  ◀─  READY | REFUSE reason
 *   GO                                            ─▶  resumes the guest            (the commit point)
 *                                                  ◀─  RESUMED u64 nanoseconds from READY sent to resumed
 *                                                      (the source adds them to its pause-to-READY time: the downtime)
 *   source stops its copy
 *
 *   PAGES u64 first-page u16 count, count × 4096 bytes   (count 1..MAX_RUN, pages in guest RAM)
 *   ZERO  u64 first-page u16 count
 *   DISK      u8 disk u64 offset u32 length, length bytes   (disk: index in the VM's disks, vda = 0;
 *   DISK_ZERO u8 disk u64 offset u32 length                  offset a multiple of DISK_CHUNK, length ≤ it)
 * </pre>
 *
 * Flags in HELLO: {@link #COPY_STORAGE}: the writable disks are copied through the stream (the
 * destination names its own image files for them, created if missing); without it the storage is
 * shared and the destination opens the source's images after the source flushed them.
 *
 * Before GO, any error on either side (a closed connection, a timeout, a refusal) leaves the guest
 * running on the source; the destination throws everything away and fails.
 */
public final class MigrationProtocol {
    static final long MAGIC = 0x5649534f524d4947L; // "VISORMIG"
    /** Bumped on any change of the stream; a destination refuses other versions. */
    static final int VERSION = 4;

    static final int HELLO = 1, ACCEPT = 2, REFUSE = 3, PAGES = 4, ZERO = 5, ROUND = 6, STATE = 7, DONE = 8,
            READY = 9, GO = 10, RESUMED = 11, DISK = 12, DISK_ZERO = 13, ROUND_ACK = 14;

    /** HELLO flag: storage migration, the writable disks' contents travel in the stream. */
    static final int COPY_STORAGE = 1;
    /** HELLO flags this version knows; a destination refuses others. */
    static final int KNOWN_FLAGS = COPY_STORAGE;

    /**
     * Bytes per disk chunk: the unit of the dirty bitmap and of a DISK message. Small enough that the
     * last round (sent with the guest paused) carries little beyond what changed; large enough that
     * the bitmap of a 1 TiB disk is 512 KiB and a read is one efficient I/O.
     */
    static final int DISK_CHUNK = 256 << 10;
    /** Largest DISK payload a destination accepts. */
    static final int MAX_DISK_CHUNK = DISK_CHUNK;

    /** Pages in one PAGES or ZERO message: 1 MiB, so a reader never buffers more. */
    static final int MAX_RUN = 256;
    /** Largest state or shape a destination accepts (the state file format's own cap). */
    static final int MAX_STATE = 64 << 20;
    /** Longest a side waits for the other's answer (or for bytes in the stream) before giving up. */
    static final int TIMEOUT_MILLIS = 30_000;

    private MigrationProtocol() {}

    /** {@code tcp:HOST:PORT} (HOST may be empty for all addresses on the destination, or [v6]). */
    public static InetSocketAddress parseAddress(String uri) {
        if (!uri.startsWith("tcp:")) throw new IllegalArgumentException("a migration address is tcp:HOST:PORT, not " + uri);
        String rest = uri.substring(4);
        int colon = rest.lastIndexOf(':');
        if (colon < 0) throw new IllegalArgumentException("a migration address is tcp:HOST:PORT, not " + uri);
        String host = rest.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
        int port;
        try {
            port = Integer.parseInt(rest.substring(colon + 1));
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (port < 0 || port > 65535) throw new IllegalArgumentException("not a port in " + uri);
        return host.isEmpty() ? new InetSocketAddress(port) : new InetSocketAddress(host, port);
    }

    static void writeReason(DataOutputStream out, int type, String reason) throws IOException {
        byte[] b = reason.getBytes(StandardCharsets.UTF_8);
        int n = Math.min(b.length, 4000);
        out.writeByte(type);
        out.writeShort(n);
        out.write(b, 0, n);
        out.flush();
    }

    static String readReason(DataInputStream in) throws IOException {
        int n = in.readUnsignedShort();
        byte[] b = new byte[n];
        in.readFully(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    /** Waits for {@code t} to end even if this thread is interrupted meanwhile (the interrupt is kept). */
    static void joinUninterruptibly(Thread t) {
        boolean interrupted = false;
        while (true) {
            try {
                t.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }

    /**
     * Waits until the JIT has compiled nothing for {@value #JIT_QUIET_MILLIS} ms, at most
     * {@value #JIT_SETTLE_MAX_MILLIS} ms, and returns the ms waited. A warm-up makes the JIT compile
     * the restore path; those compilations must not take the CPU from the switch-over after it.
     */
    static long awaitQuietJit() {
        java.lang.management.CompilationMXBean jit = java.lang.management.ManagementFactory.getCompilationMXBean();
        if (jit == null || !jit.isCompilationTimeMonitoringSupported()) return 0;
        long start = System.nanoTime(), quietSince = start, last = jit.getTotalCompilationTime();
        while (true) {
            long now = System.nanoTime();
            if ((now - quietSince) / 1_000_000 >= JIT_QUIET_MILLIS || (now - start) / 1_000_000 >= JIT_SETTLE_MAX_MILLIS) {
                return (now - start) / 1_000_000;
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return (System.nanoTime() - start) / 1_000_000;
            }
            long t = jit.getTotalCompilationTime();
            if (t != last) {
                last = t;
                quietSince = System.nanoTime();
            }
        }
    }

    static final long JIT_QUIET_MILLIS = 20, JIT_SETTLE_MAX_MILLIS = 200;

    /** Waits for {@code t} (a side's warm-up) to end, keeping an interrupt for the caller to see. */
    static void joinQuietly(Thread t) {
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The peer answered something else than {@code expected}: a refusal's reason, or a protocol error. */
    static IOException unexpected(DataInputStream in, int type, String expected) throws IOException {
        if (type == REFUSE) return new MigrationException("the destination refused: " + readReason(in));
        return new MigrationException("protocol error: expected " + expected + ", got message type " + type);
    }
}
