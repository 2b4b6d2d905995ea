package dev.visor.devices.virtio.blk;

import dev.visor.block.BlockBackend;
import dev.visor.block.BlockException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/** A disk in a byte[] that records flushes and discards; out-of-range I/O fails as a real backend's would. */
public final class MemoryDisk implements BlockBackend {
    byte[] data;
    final boolean readOnly;
    int flushes;
    final List<long[]> discards = new ArrayList<>();

    public MemoryDisk(int size, boolean readOnly) {
        data = new byte[size];
        this.readOnly = readOnly;
    }

    @Override public String format() { return "raw"; }
    @Override public synchronized long size() { return data.length; }
    @Override public boolean readOnly() { return readOnly; }

    private void check(long offset, long length) throws BlockException {
        if (offset < 0 || length < 0 || offset > data.length - length) throw new BlockException("range outside the disk");
    }

    @Override
    public synchronized void read(long offset, MemorySegment dst) throws BlockException {
        check(offset, dst.byteSize());
        MemorySegment.copy(data, (int) offset, dst, ValueLayout.JAVA_BYTE, 0, (int) dst.byteSize());
    }

    @Override
    public synchronized void write(long offset, MemorySegment src) throws BlockException {
        if (readOnly) throw new BlockException("read-only");
        check(offset, src.byteSize());
        MemorySegment.copy(src, ValueLayout.JAVA_BYTE, 0, data, (int) offset, (int) src.byteSize());
    }

    @Override public synchronized void flush() { flushes++; }

    @Override
    public synchronized void discard(long offset, long length) throws BlockException {
        check(offset, length);
        discards.add(new long[] {offset, length});
        java.util.Arrays.fill(data, (int) offset, (int) (offset + length), (byte) 0);
    }

    @Override
    public synchronized void writeZeroes(long offset, long length) throws BlockException {
        check(offset, length);
        java.util.Arrays.fill(data, (int) offset, (int) (offset + length), (byte) 0);
    }

    @Override
    public synchronized void resize(long newSize) throws BlockException {
        if (newSize < data.length || newSize % 512 != 0) throw new BlockException("cannot shrink");
        data = java.util.Arrays.copyOf(data, (int) newSize);
    }

    @Override public void close() { }
}
