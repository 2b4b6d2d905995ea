package dev.visor.block;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A raw disk image: the file's bytes are the disk's bytes. Reads and writes go straight between the
 * file and the caller's segment with positional channel I/O, so several threads may use it at once.
 *
 * <p>A request's scattered buffers ({@link #readInto}, {@link #writeFrom}) move in one preadv or
 * pwritev through {@link VectoredIo}, on Linux; those calls are serialized per image.
 *
 * <p>Discard does nothing: Java has no way to punch a hole in a file (no fallocate), and writing
 * zeros would cost I/O for a request that is only a hint. The contract lets discarded data read back
 * as the old bytes. Resize grows the file sparsely (the new area is a hole that reads as zeros).
 */
public final class RawImage implements BlockBackend {
    private final String name;
    private final FileChannel channel;
    /** The same file opened again for vectored I/O; null where that is not available. Guarded by itself. */
    private final VectoredIo vectored;
    private final boolean readOnly;
    /** Virtual size; only {@link #resize} changes it, under the monitor. */
    private volatile long size;

    private RawImage(String name, FileChannel channel, VectoredIo vectored, boolean readOnly, long size) {
        this.name = name;
        this.channel = channel;
        this.vectored = vectored;
        this.readOnly = readOnly;
        this.size = size;
    }

    /** Opens {@code path} as a raw image; its size is the file's length. */
    static RawImage open(Path path, boolean readOnly) throws IOException {
        FileChannel ch = readOnly
                ? FileChannel.open(path, StandardOpenOption.READ)
                : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        String name = "disk image " + path;
        VectoredIo vectored = null;
        try {
            long size = ch.size();
            vectored = VectoredIo.open(path, readOnly, name);
            return new RawImage(name, ch, vectored, readOnly, size);
        } catch (IOException | RuntimeException e) {
            if (vectored != null) vectored.close();
            ch.close();
            throw e;
        }
    }

    @Override public String format() { return "raw"; }
    @Override public long size() { return size; }
    @Override public boolean readOnly() { return readOnly; }

    @Override
    public void read(long offset, MemorySegment dst) throws IOException {
        checkRange(offset, dst.byteSize());
        FileIo.read(channel, offset, dst);
    }

    @Override
    public void write(long offset, MemorySegment src) throws IOException {
        checkWritable();
        checkRange(offset, src.byteSize());
        FileIo.write(channel, offset, src);
    }

    @Override
    public void readInto(long offset, MemorySegment ram, long[] at, long[] len, int n) throws IOException {
        checkRange(offset, total(len, n));
        if (vectored == null || !ram.isNative()) {
            BlockBackend.super.readInto(offset, ram, at, len, n);
            return;
        }
        synchronized (vectored) {
            vectored.transfer(false, offset, ram, at, len, n);
        }
    }

    @Override
    public void writeFrom(long offset, MemorySegment ram, long[] at, long[] len, int n) throws IOException {
        checkWritable();
        checkRange(offset, total(len, n));
        if (vectored == null || !ram.isNative()) {
            BlockBackend.super.writeFrom(offset, ram, at, len, n);
            return;
        }
        synchronized (vectored) {
            vectored.transfer(true, offset, ram, at, len, n);
        }
    }

    /** True when scattered requests go through preadv/pwritev (for tests). */
    boolean usesVectoredIo() { return vectored != null; }

    private static long total(long[] len, int n) {
        long t = 0;
        for (int i = 0; i < n; i++) t += len[i];
        return t;
    }

    @Override
    public void flush() throws IOException {
        if (!readOnly) channel.force(true);
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        checkWritable();
        checkRange(offset, length);
        // Nothing to do: see the class comment.
    }

    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        checkWritable();
        checkRange(offset, length);
        FileIo.writeZeros(channel, offset, length);
    }

    @Override
    public synchronized void resize(long newSize) throws IOException {
        checkWritable();
        Checks.checkNewSize(name, size, newSize);
        if (newSize == size) return;
        // Writing the last byte extends the file; the gap stays a hole that reads as zeros.
        if (channel.size() < newSize) FileIo.write(channel, newSize - 1, ByteBuffer.allocate(1));
        size = newSize;
    }

    @Override
    public void close() throws IOException {
        if (vectored != null) {
            synchronized (vectored) {
                vectored.close();
            }
        }
        channel.close();
    }

    private void checkWritable() throws BlockException {
        if (readOnly) throw new BlockException(name + " is read-only");
    }

    private void checkRange(long offset, long length) throws BlockException {
        Checks.checkRange(name, size, offset, length);
    }
}
