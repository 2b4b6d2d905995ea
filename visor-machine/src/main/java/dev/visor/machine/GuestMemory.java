package dev.visor.machine;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Guest RAM: one contiguous range of guest-physical addresses backed by lazily allocated host memory.
 *
 * <p>Every accessor here checks that the whole access lies inside RAM and throws
 * {@link GuestMemoryException} otherwise; device models call these with guest-supplied addresses.
 * CPU engines may use {@link #segment()} directly on their hot paths after doing their own checks
 * (a TLB hit implies a checked address).
 *
 * <p>Dirty tracking: while {@link #isDirtyLogging()} is on, writers call {@link #markDirty(long)}
 * (devices do so through the accessors here; engines when they map a page writable). Migration reads
 * and clears the bitmap with {@link #fetchAndClearDirty(long[])}.
 */
public final class GuestMemory {
    public static final int PAGE_SHIFT = 12;
    public static final long PAGE_SIZE = 1L << PAGE_SHIFT;

    static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Guest-physical address of the first byte. */
    private final long base;
    /** Size in bytes, a multiple of the page size. */
    private final long size;
    /** Host backing; offset 0 is guest-physical {@link #base}. */
    private final MemorySegment segment;
    /** One bit per page, set when the page was written while dirty logging is on. */
    private final long[] dirty;
    private volatile boolean dirtyLogging;
    /** The backing is a private (copy-on-write) mapping of a file: see {@link #mapFile}. */
    private final boolean fileBacked;

    /** Zeroed RAM, backed lazily by anonymous host memory. */
    public GuestMemory(long base, long size) {
        this(base, checkSize(size), HostMemory.reserve(size), false);
    }

    private GuestMemory(long base, long size, MemorySegment segment, boolean fileBacked) {
        this.base = base;
        this.size = size;
        this.segment = segment;
        this.fileBacked = fileBacked;
        this.dirty = new long[(int) (((size >>> PAGE_SHIFT) + 63) >>> 6)];
    }

    private static long checkSize(long size) {
        if (size <= 0 || (size & (PAGE_SIZE - 1)) != 0) {
            throw new IllegalArgumentException("guest RAM size must be a positive multiple of 4 KiB: " + size);
        }
        return size;
    }

    /**
     * RAM whose contents start as the first {@code size} bytes of {@code file} (a snapshot's RAM
     * file), mapped copy-on-write: the call costs the same for any size, pages are read from the
     * file on first touch and shared through the page cache with every other VM mapped from it, and
     * a page the guest writes becomes private to this VM. The file is never written. It must not be
     * truncated while mapped (the host would fault on the missing pages). Where the host cannot map
     * files, the file is read into anonymous RAM instead (same contents, no sharing).
     */
    public static GuestMemory mapFile(long base, long size, java.nio.file.Path file) throws java.io.IOException {
        checkSize(size);
        long length = java.nio.file.Files.size(file);
        if (length != size) throw new java.io.IOException(file + " has " + length + " bytes, the VM's RAM is " + size);
        MemorySegment mapped = HostMemory.mapPrivate(file, size);
        if (mapped != null) return new GuestMemory(base, size, mapped, true);
        GuestMemory m = new GuestMemory(base, size);
        try (var ch = java.nio.channels.FileChannel.open(file)) {
            for (long at = 0; at < size; ) {
                int n = ch.read(m.segment.asSlice(at, Math.min(1L << 30, size - at)).asByteBuffer(), at);
                if (n < 0) throw new java.io.EOFException(file + " ended at " + at + " bytes");
                at += n;
            }
        }
        return m;
    }

    /** True when this RAM is a copy-on-write mapping of a file ({@link #mapFile}). */
    public boolean isFileBacked() { return fileBacked; }

    public long base() { return base; }
    public long size() { return size; }
    public long end() { return base + size; }
    /** The host backing, offset 0 being guest-physical {@link #base()}. */
    public MemorySegment segment() { return segment; }

    /** True when [address, address+length) lies inside guest RAM. */
    public boolean contains(long address, long length) {
        long off = address - base;
        return length >= 0 && off >= 0 && off <= size - length;
    }

    private long offset(long address, long length) {
        long off = address - base;
        if (length < 0 || off < 0 || off > size - length) throw new GuestMemoryException(address, length);
        return off;
    }

    public byte readByte(long a) { return segment.get(ValueLayout.JAVA_BYTE, offset(a, 1)); }
    public short readShort(long a) { return segment.get(SHORT, offset(a, 2)); }
    public int readInt(long a) { return segment.get(INT, offset(a, 4)); }
    public long readLong(long a) { return segment.get(LONG, offset(a, 8)); }

    public void writeByte(long a, byte v) { long o = offset(a, 1); segment.set(ValueLayout.JAVA_BYTE, o, v); dirtied(o, 1); }
    public void writeShort(long a, short v) { long o = offset(a, 2); segment.set(SHORT, o, v); dirtied(o, 2); }
    public void writeInt(long a, int v) { long o = offset(a, 4); segment.set(INT, o, v); dirtied(o, 4); }
    public void writeLong(long a, long v) { long o = offset(a, 8); segment.set(LONG, o, v); dirtied(o, 8); }

    public void read(long a, byte[] dst, int dstOff, int len) {
        MemorySegment.copy(segment, ValueLayout.JAVA_BYTE, offset(a, len), dst, dstOff, len);
    }

    public void write(long a, byte[] src, int srcOff, int len) {
        long o = offset(a, len);
        MemorySegment.copy(src, srcOff, segment, ValueLayout.JAVA_BYTE, o, len);
        dirtied(o, len);
    }

    /** A view of [a, a+len) for bulk I/O; writes through it must be followed by {@link #markDirty}. */
    public MemorySegment slice(long a, long len) { return segment.asSlice(offset(a, len), len); }

    /** Gives the host pages back (balloon); they read as zero afterwards. */
    public void release(long a, long len) {
        long o = offset(a, len);
        if (fileBacked) HostMemory.releaseMapped(segment, o, len);
        else HostMemory.release(segment, o, len);
    }

    /** Bytes of guest RAM backed by host memory now (mincore), or -1 where the host cannot tell. */
    public long residentBytes() { return HostMemory.residentBytes(segment); }

    /**
     * What this RAM costs the host (rss, proportional share, private pages) from /proc/self/smaps, or
     * null where the host cannot tell. Unlike {@link #residentBytes}, this tells pages shared with
     * other VMs mapped from the same file ({@link #mapFile}) from pages private to this one.
     */
    public HostMemory.Usage usage() { return HostMemory.usage(segment); }

    // ---- dirty tracking ----

    public boolean isDirtyLogging() { return dirtyLogging; }
    public void setDirtyLogging(boolean on) { dirtyLogging = on; }

    private void dirtied(long off, long len) {
        if (dirtyLogging) {
            for (long p = off >>> PAGE_SHIFT, last = (off + len - 1) >>> PAGE_SHIFT; p <= last; p++) setDirtyBit(p);
        }
    }

    /** Marks the page holding guest-physical address {@code a} dirty (if logging). */
    public void markDirty(long a) {
        if (dirtyLogging) setDirtyBit((a - base) >>> PAGE_SHIFT);
    }

    /** Marks the pages of [a, a+len) dirty (if logging): for devices that wrote through {@link #slice}. */
    public void markDirty(long a, long len) {
        if (dirtyLogging && len > 0) dirtied(offset(a, len), len);
    }

    private void setDirtyBit(long page) {
        int w = (int) (page >>> 6);
        long bit = 1L << page;
        synchronized (dirty) { dirty[w] |= bit; }
    }

    /** Copies the dirty bitmap into {@code out} (one bit per page) and clears it. */
    public void fetchAndClearDirty(long[] out) {
        synchronized (dirty) {
            System.arraycopy(dirty, 0, out, 0, dirty.length);
            java.util.Arrays.fill(dirty, 0);
        }
    }

    public int dirtyBitmapWords() { return dirty.length; }
}
