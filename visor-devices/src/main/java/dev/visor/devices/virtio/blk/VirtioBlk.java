package dev.visor.devices.virtio.blk;

import dev.visor.machine.state.StateException;
import dev.visor.machine.state.StateReader;
import dev.visor.machine.state.StateWriter;
import dev.visor.block.BlockBackend;
import dev.visor.devices.virtio.DescriptorChain;
import dev.visor.devices.virtio.DeviceWorker;
import dev.visor.devices.virtio.VirtioDevice;
import dev.visor.devices.virtio.VirtioException;
import dev.visor.devices.virtio.Virtqueue;
import dev.visor.machine.GuestMemory;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

/**
 * virtio-blk (virtio 1.2 §5.2): a disk backed by a {@link BlockBackend} (raw or qcow2). Requests are
 * served on the disk's own worker thread, moving data straight between the image file and guest RAM.
 * A flush completes only after the backend made earlier writes durable. Growing the image
 * ({@link #resize}) updates the capacity and raises a configuration-change interrupt, so the guest
 * sees the new size without a reboot.
 */
public final class VirtioBlk extends VirtioDevice {
    static final long F_SEG_MAX = 1L << 2, F_RO = 1L << 5, F_BLK_SIZE = 1L << 6, F_FLUSH = 1L << 9,
            F_DISCARD = 1L << 13, F_WRITE_ZEROES = 1L << 14;
    static final int T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11, T_WRITE_ZEROES = 13;
    static final byte S_OK = 0, S_IOERR = 1, S_UNSUPP = 2;
    static final int SECTOR = 512;
    private static final int HEADER = 16;
    /**
     * Descriptors per queue, and so segments per request (seg_max, less the header and status): 1024
     * lets Linux send a whole 1 MiB direct I/O (256 pages of a user buffer) as one request, where
     * 254 segments (QEMU's default) split it in two, each with its own submission and interrupt.
     */
    private static final int QUEUE_SIZE = 1024;
    /** Largest discard or write-zeroes range per segment, in sectors (1 GiB). */
    private static final int MAX_RANGE_SECTORS = 1 << 21;
    private static final int MAX_RANGE_SEGMENTS = 1;

    /** The image; replaced (under {@link #lock}) when a snapshot freezes it under an overlay. */
    private volatile BlockBackend disk;
    private final String serial;
    private final DeviceWorker worker;
    private final byte[] header = new byte[HEADER];
    /** One discard/write-zeroes segment {sector, num_sectors, flags}, reused for every request. */
    private final byte[] segment = new byte[16];
    /** The GET_ID answer: the serial, NUL-padded to 20 bytes. */
    private final byte[] id = new byte[20];
    private Virtqueue queue;
    private DescriptorChain chain;
    /** A request's data buffers as offsets into guest RAM and lengths; reused (grown if a chain is longer). */
    private long[] pieceAt = new long[QUEUE_SIZE], pieceLength = new long[QUEUE_SIZE];

    // Counters for monitoring: written only by the worker (under the lock), read from any thread.
    // Bytes count what requests moved (a failed transfer counts nothing); ops count reads and writes that succeeded.
    private volatile long readBytes, writtenBytes, requests, readOps, writeOps;

    public VirtioBlk(GuestMemory memory, BlockBackend disk, String serial) {
        super(memory);
        this.disk = disk;
        this.serial = serial;
        byte[] s = serial.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(s, 0, id, 0, Math.min(id.length, s.length));
        worker = new DeviceWorker("virtio-blk " + serial, this::serve);
    }

    public BlockBackend disk() { return disk; }

    @Override public int deviceId() { return 2; }
    @Override public String name() { return "virtio-blk " + serial; }
    @Override public int queueCount() { return 1; }
    @Override public int queueMaxSize() { return QUEUE_SIZE; }

    @Override
    public long features() {
        return F_SEG_MAX | F_BLK_SIZE | F_FLUSH | (disk.readOnly() ? F_RO : F_DISCARD | F_WRITE_ZEROES);
    }

    @Override
    public long readConfig(int offset, int size) {
        long v = 0;
        for (int i = size - 1; i >= 0; i--) v = (v << 8) | configByte(offset + i);
        return v;
    }

    private int configByte(int at) {
        return switch (at >>> 2) {
            case 0, 1 -> byteOf(disk.size() / SECTOR, at);            // capacity (u64)
            case 3 -> byteOf(QUEUE_SIZE - 2, at - 12);                // seg_max
            case 5 -> byteOf(SECTOR, at - 20);                        // blk_size
            case 9 -> byteOf(MAX_RANGE_SECTORS, at - 36);             // max_discard_sectors
            case 10 -> byteOf(MAX_RANGE_SEGMENTS, at - 40);           // max_discard_seg
            case 11 -> byteOf(1, at - 44);                            // discard_sector_alignment
            case 12 -> byteOf(MAX_RANGE_SECTORS, at - 48);            // max_write_zeroes_sectors
            case 13 -> byteOf(MAX_RANGE_SEGMENTS, at - 52);           // max_write_zeroes_seg
            default -> 0;
        };
    }

    private static int byteOf(long value, int index) { return (int) (value >>> (8 * index)) & 0xff; }

    @Override
    protected void start(Virtqueue[] queues) {
        queue = queues[0];
        chain = queue.newChain();
    }

    @Override
    protected void kick(int index) {
        if (!INLINE || workerBusy || !serveQueue(true)) worker.kick();
    }

    /**
     * Reads and writes are served at once on the vCPU thread that notified the queue: the guest waits
     * for them anyway, and handing each to the worker thread and back costs two thread wake-ups per
     * request (measured: a fifth of a 1 MiB O_DIRECT read's time). Requests that may take long (flush,
     * which waits for the disk, discard and write-zeroes) go to the worker, and so does everything
     * while the worker is busy, so the vCPU never waits for it. -Dvisor.blk.inline=false: all on the worker.
     */
    static final boolean INLINE = !"false".equals(System.getProperty("visor.blk.inline"));
    /** True while the worker serves the queue. */
    private volatile boolean workerBusy;

    /** Whether the request is a flush, discard or write-zeroes (a malformed one is left to {@link #handle}). */
    private boolean mayBlock(DescriptorChain c) throws VirtioException {
        if (c.readableBytes() < HEADER) return false;
        c.read(0, header, 0, 4);
        int type = intAt(header, 0);
        return type == T_FLUSH || type == T_DISCARD || type == T_WRITE_ZEROES;
    }

    /**
     * Puts {@code next} in place of the current image, which is returned (still open: the caller
     * closes it once nothing reads it). For snapshots: the current image is frozen and {@code next}
     * is a qcow2 overlay on it, so the guest sees the same bytes and writes go to the overlay. Takes
     * the device lock, so no request is being served meanwhile; the new image must have the same
     * size and read-only flag (what the guest was told).
     */
    public BlockBackend replaceBackend(BlockBackend next) {
        synchronized (lock) {
            if (next.size() != disk.size() || next.readOnly() != disk.readOnly()) {
                throw new IllegalArgumentException(name() + ": the new image has size " + next.size() + (next.readOnly() ? " (read-only)" : "")
                        + ", the disk has " + disk.size() + (disk.readOnly() ? " (read-only)" : ""));
            }
            BlockBackend old = disk;
            disk = next;
            return old;
        }
    }

    /** Grows the disk of a running VM; the guest is told through a configuration change. */
    public void resize(long newSize) throws IOException {
        disk.resize(newSize);
        configChanged();
    }

    private void serve() {
        workerBusy = true;
        try {
            serveQueue(false);
        } finally {
            workerBusy = false;
        }
    }

    /**
     * Serves the queue until it is empty (true); with {@code inline}, stops before a request that may
     * block, which stays queued for the worker (false).
     */
    private boolean serveQueue(boolean inline) {
        synchronized (lock) {
            if (!running) return true;
            try {
                boolean all = true;
                while (queue.pop(chain)) {
                    if (inline && mayBlock(chain)) {
                        queue.unpop();
                        all = false;
                        break;
                    }
                    int written = handle(chain);
                    queue.pushUsed(chain.head(), written);
                    requests++;
                }
                notifyUsed(queue);
                return all;
            } catch (VirtioException e) {
                failed(e);
                return true;
            }
        }
    }

    /** Serves one request; returns the bytes written into the guest's buffers (data + status). */
    private int handle(DescriptorChain c) throws VirtioException {
        if (c.writableBytes() < 1) throw new VirtioException("request without a status byte");
        c.read(0, header, 0, HEADER);
        int type = intAt(header, 0);
        long sector = longAt(header, 8);
        long statusAt = c.writableBytes() - 1;
        byte status;
        int written = 1;
        try {
            switch (type) {
                case T_IN -> {
                    long n = statusAt;
                    status = transfer(c, sector, n, false);
                    if (status == S_OK) {
                        written += (int) n;
                        readOps++;
                    }
                }
                case T_OUT -> {
                    status = disk.readOnly() ? S_IOERR : transfer(c, sector, c.readableBytes() - HEADER, true);
                    if (status == S_OK) writeOps++;
                }
                case T_FLUSH -> {
                    disk.flush();
                    status = S_OK;
                }
                case T_GET_ID -> {
                    int n = (int) Math.min(20, statusAt);
                    c.write(0, id, 0, n);
                    written += n;
                    status = S_OK;
                }
                case T_DISCARD, T_WRITE_ZEROES -> status = disk.readOnly() ? S_IOERR : ranges(c, type == T_DISCARD);
                default -> status = S_UNSUPP;
            }
        } catch (IOException e) {
            status = S_IOERR;
            written = 1;
        }
        c.writeByte(statusAt, status);
        return written;
    }

    /** Moves {@code length} bytes between the disk at {@code sector} and the request's data buffers. */
    private byte transfer(DescriptorChain c, long sector, long length, boolean toDisk) throws IOException {
        if (length % SECTOR != 0 || sector < 0 || sector > disk.size() / SECTOR
                || length > disk.size() - sector * SECTOR) {
            return S_IOERR;
        }
        long pos = sector * SECTOR;
        long skip = toDisk ? HEADER : 0; // data follows the header (writes) or starts the writable part (reads)
        int first = toDisk ? 0 : c.readableBuffers();
        int last = toDisk ? c.readableBuffers() : c.buffers();
        long remaining = length;
        // the request's pieces of guest RAM, as offsets into it, for the backend to move in one go
        long ramBase = memory.base();
        int pieces = 0;
        for (int i = first; i < last && remaining > 0; i++) {
            long len = c.bufferLength(i);
            if (skip >= len) {
                skip -= len;
                continue;
            }
            long n = Math.min(len - skip, remaining);
            if (pieces == pieceAt.length) {
                pieceAt = java.util.Arrays.copyOf(pieceAt, pieces * 2);
                pieceLength = java.util.Arrays.copyOf(pieceLength, pieces * 2);
            }
            pieceAt[pieces] = c.bufferAddress(i) + skip - ramBase;
            pieceLength[pieces++] = n;
            remaining -= n;
            skip = 0;
        }
        MemorySegment ram = memory.segment();
        if (toDisk) {
            disk.writeFrom(pos, ram, pieceAt, pieceLength, pieces);
            writtenBytes += length - remaining;
        } else {
            disk.readInto(pos, ram, pieceAt, pieceLength, pieces);
            for (int i = 0; i < pieces; i++) c.dirtied(ramBase + pieceAt[i], pieceLength[i]);
            readBytes += length - remaining;
        }
        return S_OK;
    }

    /** Discard or write-zeroes: the payload is a list of {sector, num_sectors, flags} segments. */
    private byte ranges(DescriptorChain c, boolean discard) throws IOException, VirtioException {
        long payload = c.readableBytes() - HEADER;
        if (payload <= 0 || payload % 16 != 0 || payload / 16 > MAX_RANGE_SEGMENTS) return S_IOERR;
        byte[] seg = segment;
        for (long off = HEADER; off < c.readableBytes(); off += 16) {
            c.read(off, seg, 0, 16);
            long sector = longAt(seg, 0);
            long count = intAt(seg, 8) & 0xffff_ffffL;
            if (sector < 0 || count > MAX_RANGE_SECTORS || sector > disk.size() / SECTOR
                    || count * SECTOR > disk.size() - sector * SECTOR) {
                return S_IOERR;
            }
            if (discard) disk.discard(sector * SECTOR, count * SECTOR);
            else disk.writeZeroes(sector * SECTOR, count * SECTOR);
        }
        return S_OK;
    }

    private static int intAt(byte[] b, int o) {
        return (b[o] & 0xff) | (b[o + 1] & 0xff) << 8 | (b[o + 2] & 0xff) << 16 | (b[o + 3] & 0xff) << 24;
    }

    private static long longAt(byte[] b, int o) {
        return (intAt(b, o) & 0xffff_ffffL) | (long) intAt(b, o + 4) << 32;
    }

    /** Bytes read from the disk into guest RAM, since this device was made. */
    public long readBytes() { return readBytes; }
    /** Bytes written from guest RAM to the disk. */
    public long writtenBytes() { return writtenBytes; }
    /** Requests of any kind served. */
    public long requests() { return requests; }
    /** Read requests that succeeded. */
    public long readOps() { return readOps; }
    /** Write requests that succeeded. */
    public long writeOps() { return writeOps; }

    @Override
    public void close() {
        worker.close();
        synchronized (lock) {
            running = false;
            try {
                disk.close();
            } catch (IOException ignored) {
                // the VM is ending; a failing close of the image is reported by nobody
            }
        }
    }

    // ---- state ----
    // Nothing is in flight once the device is quiesced: quiesce takes the lock that serve() holds
    // for a whole batch, so a pause waits for the requests being served and the rest stay in the
    // available ring for the restored device. The record holds what the guest was told about the
    // disk, so a restore onto a different disk is refused.

    @Override
    public void saveState(StateWriter out) {
        out.putLong("capacity", disk.size());
        out.putBool("readOnly", disk.readOnly());
        out.putString("serial", serial);
    }

    @Override
    public void restoreState(StateReader in) throws StateException {
        long capacity = in.getLong("capacity", disk.size());
        boolean ro = in.getBool("readOnly", disk.readOnly());
        if (capacity != disk.size()) throw in.invalid(name() + " was " + capacity + " bytes, the disk given now is " + disk.size());
        if (ro != disk.readOnly()) throw in.invalid(name() + " was " + (ro ? "read-only" : "writable") + ", the disk given now is not");
    }
}
