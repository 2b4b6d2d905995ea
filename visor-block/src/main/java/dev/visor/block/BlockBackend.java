package dev.visor.block;

import java.io.Closeable;
import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * A virtual disk as the guest sees it: a linear array of bytes of {@link #size()} bytes, whatever
 * the file format underneath (raw, qcow2 with its backing chain). Opened with {@link BlockImages#open}.
 *
 * <p>Offsets and lengths are in bytes; callers (virtio-blk) pass 512-byte aligned requests but an
 * implementation must accept any range inside [0, size()). A range that does not fit, a write to a
 * read-only disk, or a corrupt image gives a {@link BlockException} with a one-line message; the
 * image is left consistent. Methods may be called from several threads; implementations serialize
 * internally where their metadata needs it.
 *
 * <p>Buffers are {@link MemorySegment}s so that virtio-blk can pass slices of guest RAM and the data
 * moves between the file and the guest without an intermediate copy.
 */
public interface BlockBackend extends Closeable {
    /** "raw" or "qcow2". */
    String format();

    /** Virtual size in bytes, as the guest sees it. */
    long size();

    boolean readOnly();

    /** Fills all of {@code dst} with the disk's bytes starting at {@code offset}. Unallocated space reads as zeros. */
    void read(long offset, MemorySegment dst) throws IOException;

    /** Writes all of {@code src} at {@code offset}. */
    void write(long offset, MemorySegment src) throws IOException;

    /**
     * Reads {@code n} pieces of the disk's bytes in a row, starting at {@code offset}, into {@code ram}:
     * piece i is {@code len[i]} bytes at offset {@code at[i]} of {@code ram}. This is one virtio-blk
     * request's data buffers, which the guest scatters over its RAM; a raw image reads them all in one
     * system call.
     */
    default void readInto(long offset, MemorySegment ram, long[] at, long[] len, int n) throws IOException {
        for (int i = 0; i < n; i++) {
            read(offset, ram.asSlice(at[i], len[i]));
            offset += len[i];
        }
    }

    /** Writes {@code n} pieces of {@code ram} to the disk in a row from {@code offset} (the converse of {@link #readInto}). */
    default void writeFrom(long offset, MemorySegment ram, long[] at, long[] len, int n) throws IOException {
        for (int i = 0; i < n; i++) {
            write(offset, ram.asSlice(at[i], len[i]));
            offset += len[i];
        }
    }

    /** Makes every completed write durable (fsync of the image file and its metadata). */
    void flush() throws IOException;

    /** The guest no longer needs this range: it may read back as zeros or as the old data afterwards. */
    void discard(long offset, long length) throws IOException;

    /** The range reads as zeros afterwards (allocating nothing where the format allows). */
    void writeZeroes(long offset, long length) throws IOException;

    /** Grows the virtual size to {@code newSize} bytes (a multiple of 512; shrinking is refused). */
    void resize(long newSize) throws IOException;

    @Override
    void close() throws IOException;
}
