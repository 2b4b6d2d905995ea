package dev.visor.vmm.migration;

import dev.visor.block.BlockBackend;
import dev.visor.block.BlockException;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A {@link BlockBackend} that passes everything to the disk it wraps and remembers which chunks of
 * {@link #chunkSize} bytes were changed (written, discarded or zeroed) since the last
 * {@link #fetchAndClearDirty}: the disk's dirty bitmap during a storage migration, as the RAM's is
 * for guest pages. Put in place of a running VM's image with {@code VirtioBlk.replaceBackend} and
 * taken out again the same way.
 *
 * <p>Implementation overview. A chunk's bit is set <em>after</em> the change reached the wrapped
 * disk, and the copier clears a bit <em>before</em> it reads the chunk. So a change the copier's
 * read may have missed always leaves the bit set for a later round: either the bit was set before
 * the copier cleared it (then the change was complete before the read), or it is set after (then it
 * is seen next time). Bits live in an {@link AtomicLongArray}; setting one is a compare-and-set loop
 * on one word, taken only on the write path. Resizing is refused while tracked (the copy has the
 * old size).
 */
public final class DirtyTrackingBackend implements BlockBackend {
    /** The disk that holds the data. */
    private final BlockBackend disk;
    /** Bytes per tracked chunk, a power of two. */
    private final int chunkSize;
    private final int chunkShift;
    /** Chunks of the disk, the last one maybe short. */
    private final long chunks;
    /** One bit per chunk: changed since the last fetch. */
    private final AtomicLongArray dirty;

    public DirtyTrackingBackend(BlockBackend disk, int chunkSize) {
        if (Integer.bitCount(chunkSize) != 1 || chunkSize < 512) throw new IllegalArgumentException("chunk size must be a power of two ≥ 512: " + chunkSize);
        this.disk = disk;
        this.chunkSize = chunkSize;
        this.chunkShift = Integer.numberOfTrailingZeros(chunkSize);
        this.chunks = Math.ceilDiv(disk.size(), chunkSize);
        if (Math.ceilDiv(chunks, 64) > Integer.MAX_VALUE) throw new IllegalArgumentException("disk too large for a chunk size of " + chunkSize);
        this.dirty = new AtomicLongArray((int) Math.ceilDiv(chunks, 64));
    }

    /** The wrapped disk (the copier reads it directly). */
    public BlockBackend disk() { return disk; }

    public int chunkSize() { return chunkSize; }

    public long chunks() { return chunks; }

    /** Words of the bitmap {@link #fetchAndClearDirty} fills. */
    public int bitmapWords() { return dirty.length(); }

    /** Copies the dirty bits into {@code into} (of {@link #bitmapWords} words), clears them, and returns how many were set. */
    public long fetchAndClearDirty(long[] into) {
        long n = 0;
        for (int i = 0; i < into.length; i++) {
            long w = dirty.length() > i ? dirty.getAndSet(i, 0) : 0;
            into[i] = w;
            n += Long.bitCount(w);
        }
        return n;
    }

    /** Chunks changed since the last fetch (a snapshot; the guest may be adding more). */
    public long dirtyCount() {
        long n = 0;
        for (int i = 0; i < dirty.length(); i++) n += Long.bitCount(dirty.get(i));
        return n;
    }

    private void mark(long offset, long length) {
        if (length <= 0) return;
        long first = offset >>> chunkShift, last = Math.min(chunks - 1, (offset + length - 1) >>> chunkShift);
        for (long c = first; c <= last; c++) {
            int word = (int) (c >>> 6);
            long bit = 1L << c;
            long w;
            do {
                w = dirty.get(word);
                if ((w & bit) != 0) break;
            } while (!dirty.compareAndSet(word, w, w | bit));
        }
    }

    @Override public String format() { return disk.format(); }

    @Override public long size() { return disk.size(); }

    @Override public boolean readOnly() { return disk.readOnly(); }

    @Override
    public void read(long offset, MemorySegment dst) throws IOException {
        disk.read(offset, dst);
    }

    @Override
    public void write(long offset, MemorySegment src) throws IOException {
        try {
            disk.write(offset, src);
        } finally {
            mark(offset, src.byteSize()); // even a failed write may have changed part of the range
        }
    }

    @Override
    public void flush() throws IOException {
        disk.flush();
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        try {
            disk.discard(offset, length);
        } finally {
            mark(offset, length);
        }
    }

    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        try {
            disk.writeZeroes(offset, length);
        } finally {
            mark(offset, length);
        }
    }

    @Override
    public void resize(long newSize) throws IOException {
        throw new BlockException("the disk is being migrated: resize it after the migration");
    }

    /** Closes the wrapped disk (when the VM ends while the wrapper is in place). */
    @Override
    public void close() throws IOException {
        disk.close();
    }
}
