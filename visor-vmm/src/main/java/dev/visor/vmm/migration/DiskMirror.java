package dev.visor.vmm.migration;

import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The sending half of a storage migration: streams the disks behind their
 * {@link DirtyTrackingBackend}s into the migration stream as DISK / DISK_ZERO messages
 * ({@link MigrationProtocol}), first every chunk, then in rounds the chunks changed meanwhile.
 *
 * <pre>
 *   DiskMirror m = new DiskMirror(List.of(new DiskMirror.Disk(0, tracker)), out, onBytes);
 *   m.sendAll();                        // round 0, while the guest runs and writes
 *   while (m.dirtyChunks() > few) m.sendDirty();
 *   ... pause the guest ...
 *   m.sendDirty();                      // the last changes; the copy is now the disk
 * </pre>
 *
 * Only the migrating thread calls it. A chunk that is all zeros goes as a DISK_ZERO marker (the
 * destination leaves a fresh image sparse there).
 *
 * @param out     the migration stream
 * @param onBytes told the stream bytes after each message (progress and the watchdog)
 */
final class DiskMirror {
    /** One mirrored disk: its index in the VM's disk list (vda = 0) and its tracker. */
    record Disk(int index, DirtyTrackingBackend tracker) {}

    private final List<Disk> disks;
    private final DataOutputStream out;
    private final java.util.function.LongConsumer onBytes;
    private final byte[] buffer;
    private final MemorySegment chunk;
    private final MemorySegment zero;
    /** Bytes of disk data sent (DISK payloads, not markers), re-sent chunks counted again. */
    private long dataBytes;
    /** Guest-visible bytes the first full pass has covered so far: payloads and zero markers. */
    private long coveredBytes;
    /** In {@link #sendAll}: chunks sent count towards {@link #coveredBytes}. */
    private boolean firstPass;
    /** Chunks sent so far (data or zero). */
    private long chunksSent;

    DiskMirror(List<Disk> disks, DataOutputStream out, java.util.function.LongConsumer onBytes) {
        this.disks = List.copyOf(disks);
        this.out = out;
        this.onBytes = onBytes;
        int size = disks.isEmpty() ? 512 : disks.getFirst().tracker().chunkSize();
        for (Disk d : disks) if (d.tracker().chunkSize() != size) throw new IllegalArgumentException("disks with different chunk sizes");
        if (size > MigrationProtocol.MAX_DISK_CHUNK) throw new IllegalArgumentException("chunk size above " + MigrationProtocol.MAX_DISK_CHUNK);
        buffer = new byte[size];
        chunk = MemorySegment.ofArray(buffer);
        zero = MemorySegment.ofArray(new byte[size]);
    }

    /** Total guest-visible bytes of the mirrored disks. */
    long totalBytes() {
        long n = 0;
        for (Disk d : disks) n += d.tracker().size();
        return n;
    }

    long dataBytes() { return dataBytes; }

    long coveredBytes() { return coveredBytes; }

    long chunksSent() { return chunksSent; }

    /** Chunks changed since they were last sent, over all disks (a peek: nothing is cleared). */
    long dirtyChunks() {
        long n = 0;
        for (Disk d : disks) n += d.tracker().dirtyCount();
        return n;
    }

    /** Bytes per chunk. */
    int chunkSize() { return buffer.length; }

    /** Round 0: every chunk of every disk. Clears the dirty bits first (what is read now is current). Returns stream bytes. */
    long sendAll() throws IOException {
        long before = streamBytes;
        firstPass = true;
        try {
            for (Disk d : disks) {
                d.tracker().fetchAndClearDirty(new long[d.tracker().bitmapWords()]);
                for (long c = 0; c < d.tracker().chunks(); c++) sendChunk(d, c);
            }
        } finally {
            firstPass = false;
        }
        out.flush();
        return streamBytes - before;
    }

    /** A later round: the chunks changed since they were last sent. Returns stream bytes. */
    long sendDirty() throws IOException {
        long before = streamBytes;
        for (Disk d : disks) {
            long[] bits = new long[d.tracker().bitmapWords()];
            if (d.tracker().fetchAndClearDirty(bits) == 0) continue;
            for (int w = 0; w < bits.length; w++) {
                long word = bits[w];
                while (word != 0) {
                    int b = Long.numberOfTrailingZeros(word);
                    word &= word - 1;
                    sendChunk(d, ((long) w << 6) + b);
                }
            }
        }
        out.flush();
        return streamBytes - before;
    }

    /** Stream bytes written by this mirror. */
    private long streamBytes;

    private void sendChunk(Disk d, long c) throws IOException {
        long offset = c * buffer.length;
        int n = (int) Math.min(buffer.length, d.tracker().size() - offset);
        MemorySegment slice = chunk.asSlice(0, n);
        d.tracker().disk().read(offset, slice);
        boolean isZero = slice.mismatch(zero.asSlice(0, n)) < 0;
        out.writeByte(isZero ? MigrationProtocol.DISK_ZERO : MigrationProtocol.DISK);
        out.writeByte(d.index());
        out.writeLong(offset);
        out.writeInt(n);
        long bytes = 14;
        if (!isZero) {
            out.write(buffer, 0, n);
            bytes += n;
            dataBytes += n;
        }
        if (firstPass) coveredBytes += n;
        chunksSent++;
        streamBytes += bytes;
        onBytes.accept(bytes);
    }
}
