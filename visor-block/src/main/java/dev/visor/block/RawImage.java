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
 * <p>Discard does nothing: Java has no way to punch a hole in a file (no fallocate), and writing
 * zeros would cost I/O for a request that is only a hint. The contract lets discarded data read back
 * as the old bytes. Resize grows the file sparsely (the new area is a hole that reads as zeros).
 */
public final class RawImage implements BlockBackend {
    private final String name;
    private final FileChannel channel;
    private final boolean readOnly;
    /** Virtual size; only {@link #resize} changes it, under the monitor. */
    private volatile long size;

    private RawImage(String name, FileChannel channel, boolean readOnly, long size) {
        this.name = name;
        this.channel = channel;
        this.readOnly = readOnly;
        this.size = size;
    }

    /** Opens {@code path} as a raw image; its size is the file's length. */
    static RawImage open(Path path, boolean readOnly) throws IOException {
        FileChannel ch = readOnly
                ? FileChannel.open(path, StandardOpenOption.READ)
                : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            return new RawImage("disk image " + path, ch, readOnly, ch.size());
        } catch (IOException e) {
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
    public void close() throws IOException { channel.close(); }

    private void checkWritable() throws BlockException {
        if (readOnly) throw new BlockException(name + " is read-only");
    }

    private void checkRange(long offset, long length) throws BlockException {
        Checks.checkRange(name, size, offset, length);
    }
}
