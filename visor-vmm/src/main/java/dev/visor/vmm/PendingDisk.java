package dev.visor.vmm;

import dev.visor.block.BlockBackend;
import dev.visor.block.BlockException;

import java.lang.foreign.MemorySegment;

/**
 * The stand-in for a disk that a migration's destination, built ahead of the switch-over, opens only
 * at the switch-over ({@link VirtioDevices#openLaterDisks}): it has the source's size and flags, so
 * the device is what the guest was told, and refuses all I/O (the guest does not run before the real
 * image takes its place). Closing it touches no file.
 */
final class PendingDisk implements BlockBackend {
    private final long size;
    private final boolean readOnly;
    private final String format;

    PendingDisk(long size, boolean readOnly, String format) {
        this.size = size;
        this.readOnly = readOnly;
        this.format = format == null ? "raw" : format;
    }

    @Override public String format() { return format; }
    @Override public long size() { return size; }
    @Override public boolean readOnly() { return readOnly; }

    @Override public void read(long offset, MemorySegment dst) throws BlockException { throw notOpen(); }
    @Override public void write(long offset, MemorySegment src) throws BlockException { throw notOpen(); }
    @Override public void flush() throws BlockException { throw notOpen(); }
    @Override public void discard(long offset, long length) throws BlockException { throw notOpen(); }
    @Override public void writeZeroes(long offset, long length) throws BlockException { throw notOpen(); }
    @Override public void resize(long newSize) throws BlockException { throw notOpen(); }
    @Override public void close() { }

    private static BlockException notOpen() {
        return new BlockException("the disk is opened at the migration's switch-over");
    }
}
