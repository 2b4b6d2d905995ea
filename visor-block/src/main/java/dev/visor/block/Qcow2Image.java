package dev.visor.block;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * A qcow2 image (version 2 or 3) with its backing chain, as a {@link BlockBackend}.
 *
 * <p>Guest offsets map to the file through two levels of tables, one cluster per L2 table:
 * <pre>
 *   guest offset = | L1 index | L2 index (clusterBits - 3 bits) | offset in cluster (clusterBits) |
 *   L1 entry:  bit 63 COPIED (refcount 1) | bits 9-55 L2 table offset
 *   L2 entry:  bit 63 COPIED | bit 62 COMPRESSED | standard: bits 9-55 host cluster, bit 0 reads-as-zero (v3)
 *                                                | compressed: low bits host byte offset, then sector count
 * </pre>
 * An entry of 0 is unallocated: the cluster reads from the backing file, or as zeros without one.
 *
 * <p>Implementation overview. One lock guards all metadata (L1 in memory, the {@link L2Cache}, the
 * {@link RefcountTable}) and the scratch buffers. A read looks up each cluster's entry under the
 * lock and then reads the data outside it; clusters are never reused once freed (allocation is
 * append-only), so a racing discard cannot make a reader see another cluster's data. A write holds
 * the lock throughout. A write to a cluster that is not a plain allocated one (unallocated, zero,
 * compressed) allocates a fresh cluster, fills it with the old contents plus the new bytes, writes
 * it whole, and only then points the L2 entry at it (a new L2 table is zeroed on disk before the L1
 * entry points at it): every step leaves the file valid, and a crash leaks clusters at worst.
 * Discard and write-zeroes of whole clusters only change entries (v3 zero flag, or unallocated when
 * nothing shows through) and free the old clusters; {@code qemu-img check} accepts both forms.
 */
public final class Qcow2Image implements BlockBackend {
    /** Opens the backing file an image names: its resolved path and its format (null: detect). */
    @FunctionalInterface
    interface BackingOpener {
        BlockBackend open(Path path, String format) throws IOException;
    }

    private static final long COPIED = 1L << 63;
    private static final long COMPRESSED = 1L << 62;
    private static final long ZERO = 1L;
    private static final long OFFSET_MASK = 0x00ff_ffff_ffff_fe00L;

    // The file.
    private final String name;
    private final FileChannel ch;
    private final boolean readOnly;
    private final BlockBackend backing;
    /** The image file opened again for scattered reads ({@link #readInto}); null where not available. Guarded by itself. */
    private final VectoredIo vectored;
    /** One preadv's pieces (offsets into guest RAM, lengths), guarded by {@link #vectored}. */
    private long[] batchAt = new long[64], batchLength = new long[64];
    /** File length at open; with the allocator's end, the bound every table and cluster offset is checked against. */
    private final long openedLength;

    // Geometry, fixed by the header.
    private final int version;
    private final int clusterBits;
    private final long clusterSize;
    /** log2 of the entries in one L2 table. */
    private final int l2Bits;
    private final long compressedOffsetMask;
    private final int compressedSectorsShift;
    private final long compressedSectorsMask;

    // Metadata, guarded by lock.
    private final Object lock = new Object();
    private volatile long size;
    private long[] l1;
    private long l1Offset;
    private final L2Cache l2Cache;
    /** Null when read-only: refcounts matter only to writers. */
    private final RefcountTable refcounts;

    // Scratch space, guarded by lock.
    /** One cluster for copy-on-write and decompression, allocated on first use (most backing files never need it). */
    private MemorySegment clusterBuf;
    private byte[] clusterBytes;
    private byte[] compressedBytes;
    private Inflater inflater;
    private final ByteBuffer scratch = ByteBuffer.allocate(8);

    private Qcow2Image(Qcow2Header h, FileChannel ch, VectoredIo vectored, boolean readOnly, BlockBackend backing) throws IOException {
        this.name = h.name;
        this.ch = ch;
        this.vectored = vectored;
        this.readOnly = readOnly;
        this.backing = backing;
        this.openedLength = ch.size();
        this.version = h.version;
        this.clusterBits = h.clusterBits;
        this.clusterSize = 1L << clusterBits;
        this.l2Bits = clusterBits - 3;
        int compressedOffsetBits = 62 - (clusterBits - 8);
        this.compressedOffsetMask = (1L << compressedOffsetBits) - 1;
        this.compressedSectorsShift = compressedOffsetBits;
        this.compressedSectorsMask = (1L << (clusterBits - 8)) - 1;
        this.size = h.size;
        this.l1Offset = h.l1TableOffset;
        ByteBuffer raw = ByteBuffer.allocate((int) (h.l1Size * 8));
        FileIo.read(ch, h.l1TableOffset, raw);
        this.l1 = new long[(int) h.l1Size];
        raw.flip().asLongBuffer().get(l1);
        this.l2Cache = new L2Cache(ch, clusterBits);
        this.refcounts = readOnly ? null : RefcountTable.load(ch, h);
        if (!readOnly && h.autoclear != 0) {
            // We do not keep autoclear features (e.g. dirty bitmaps) up to date, so the spec says to clear them.
            FileIo.writeLong(ch, Qcow2Header.AUTOCLEAR_FIELD, 0, scratch);
        }
    }

    /** Opens the qcow2 image at {@code path}; its backing file, if any, through {@code opener}. */
    static Qcow2Image open(Path path, boolean readOnly, BackingOpener opener) throws IOException {
        FileChannel ch = readOnly
                ? FileChannel.open(path, StandardOpenOption.READ)
                : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        BlockBackend backing = null;
        VectoredIo vectored = null;
        try {
            Qcow2Header h = Qcow2Header.read(ch, path.toString());
            h.checkUsable(readOnly);
            if (h.backingFile != null) backing = opener.open(resolveBacking(h.name, path, h.backingFile), h.backingFormat);
            vectored = VectoredIo.open(path, true, h.name); // data is only read through it
            return new Qcow2Image(h, ch, vectored, readOnly, backing);
        } catch (IOException | RuntimeException | Error e) {
            try {
                if (vectored != null) vectored.close();
                if (backing != null) backing.close();
                ch.close();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /** A backing file name as stored: absolute, or relative to the directory of the image naming it. */
    static Path resolveBacking(String name, Path image, String backingName) throws BlockException {
        try {
            Path p = Path.of(backingName);
            return p.isAbsolute() ? p : image.toAbsolutePath().getParent().resolve(p);
        } catch (InvalidPathException e) {
            throw new BlockException(name + ": backing file name '" + backingName + "' is not a usable path");
        }
    }

    @Override public String format() { return "qcow2"; }
    @Override public long size() { return size; }
    @Override public boolean readOnly() { return readOnly; }

    @Override
    public void read(long offset, MemorySegment dst) throws IOException {
        Checks.checkRange(name, size, offset, dst.byteSize());
        readPieces(offset, dst, new long[] {0}, new long[] {dst.byteSize()}, 1, false);
    }

    @Override
    public void write(long offset, MemorySegment src) throws IOException {
        checkWritable();
        long length = src.byteSize();
        Checks.checkRange(name, size, offset, length);
        synchronized (lock) {
            for (long done = 0; done < length; ) {
                long guest = offset + done;
                int inCluster = (int) (guest & (clusterSize - 1));
                long n = Math.min(clusterSize - inCluster, length - done);
                long entry = lookup(guest);
                if (isPlain(entry)) {
                    // Already allocated: overwrite in place, as one write across contiguous clusters.
                    n = extendRun(guest, entry, n, length - done);
                    FileIo.write(ch, (entry & OFFSET_MASK) + inCluster, src.asSlice(done, n));
                } else {
                    writeInCluster(guest, src.asSlice(done, n));
                }
                done += n;
            }
        }
    }

    @Override
    public void flush() throws IOException {
        if (!readOnly) ch.force(true);
    }

    /** Whole clusters become unallocated (v3, or v2 without a backing file) or zero clusters (v3 with one); parts of clusters are left alone. */
    @Override
    public void discard(long offset, long length) throws IOException {
        checkWritable();
        Checks.checkRange(name, size, offset, length);
        synchronized (lock) {
            zeroRange(offset, length, true);
        }
    }

    @Override
    public void writeZeroes(long offset, long length) throws IOException {
        checkWritable();
        Checks.checkRange(name, size, offset, length);
        synchronized (lock) {
            zeroRange(offset, length, false);
        }
    }

    @Override
    public void resize(long newSize) throws IOException {
        checkWritable();
        synchronized (lock) {
            long oldSize = size;
            Checks.checkNewSize(name, oldSize, newSize);
            if (newSize == oldSize) return;
            long l1Needed = Math.ceilDiv(newSize, 1L << (clusterBits + l2Bits));
            if (l1Needed > l1.length) growL1(l1Needed);
            FileIo.writeLong(ch, Qcow2Header.SIZE_FIELD, newSize, scratch);
            size = newSize;
            // A backing file longer than the old size would show through in the new area, which must read as zeros.
            if (backing != null && backing.size() > oldSize) zeroRange(oldSize, Math.min(newSize, backing.size()) - oldSize, false);
        }
    }

    /**
     * Scattered reads: the data of plain allocated clusters goes in one preadv per run that is
     * contiguous in the image file (a sequentially written image is contiguous for whole requests).
     */
    @Override
    public void readInto(long offset, MemorySegment ram, long[] at, long[] len, int n) throws IOException {
        long total = 0;
        for (int i = 0; i < n; i++) total += len[i];
        Checks.checkRange(name, size, offset, total);
        if (vectored == null || !ram.isNative()) {
            readPieces(offset, ram, at, len, n, false);
            return;
        }
        synchronized (vectored) {
            readPieces(offset, ram, at, len, n, true);
        }
    }

    /**
     * Reads the disk from {@code offset} into the {@code n} pieces of {@code ram} (offsets {@code at},
     * lengths {@code len}) in order, cluster run by cluster run. Zero, unallocated (backing) and
     * compressed clusters are served at once; plain allocated ones are read from the file, with
     * {@code batched} (the caller holds {@link #vectored}) in one preadv per run contiguous in the
     * file, else one channel read per run.
     */
    private void readPieces(long offset, MemorySegment ram, long[] at, long[] len, int n, boolean batched) throws IOException {
        int count = 0;                     // pieces in the batch for one preadv
        long batchStart = 0, batchEnd = 0; // the file range the batch reads
        long guest = offset;
        for (int i = 0; i < n; i++) {
            long ramAt = at[i];
            for (long left = len[i]; left > 0; ) {
                int inCluster = (int) (guest & (clusterSize - 1));
                long m = Math.min(clusterSize - inCluster, left);
                long entry;
                synchronized (lock) {
                    entry = lookup(guest);
                    if ((entry & COMPRESSED) != 0) {
                        decompress(entry, guest);
                        MemorySegment.copy(clusterBuf, inCluster, ram, ramAt, m);
                    } else {
                        m = extendRun(guest, entry, m, left);
                    }
                }
                long host = entry & OFFSET_MASK;
                if ((entry & COMPRESSED) != 0) {
                    // copied above, under the lock (clusterBuf is shared)
                } else if (isZero(entry)) {
                    ram.asSlice(ramAt, m).fill((byte) 0);
                } else if (host == 0) {
                    readBacking(guest, ram.asSlice(ramAt, m));
                } else if (!batched) {
                    FileIo.read(ch, host + inCluster, ram.asSlice(ramAt, m));
                } else {
                    long file = host + inCluster;
                    if (count > 0 && file != batchEnd) {
                        vectored.transfer(false, batchStart, ram, batchAt, batchLength, count);
                        count = 0;
                    }
                    if (count == 0) batchStart = file;
                    if (count == batchAt.length) {
                        batchAt = java.util.Arrays.copyOf(batchAt, count * 2);
                        batchLength = java.util.Arrays.copyOf(batchLength, count * 2);
                    }
                    batchAt[count] = ramAt;
                    batchLength[count++] = m;
                    batchEnd = file + m;
                }
                guest += m;
                ramAt += m;
                left -= m;
            }
        }
        if (count > 0) vectored.transfer(false, batchStart, ram, batchAt, batchLength, count);
    }

    /** True when scattered reads go through preadv (for tests). */
    boolean usesVectoredIo() { return vectored != null; }

    @Override
    public void close() throws IOException {
        synchronized (lock) {
            try (BlockBackend b = backing; FileChannel c = ch) {
                if (inflater != null) inflater.end();
            }
        }
        if (vectored != null) {
            synchronized (vectored) {
                vectored.close();
            }
        }
    }

    // ---- Lookup ----

    /** The L2 entry for {@code guest}, checked; 0 if its L2 table is not allocated. */
    private long lookup(long guest) throws IOException {
        long table = l2Table(guest, false);
        if (table == 0) return 0;
        long entry = l2Cache.get(table, l2Index(guest));
        checkEntry(entry, guest);
        return entry;
    }

    /** Offset of the L2 table covering {@code guest}; allocates it if {@code allocate}, else returns 0 when there is none. */
    private long l2Table(long guest, boolean allocate) throws IOException {
        int i = (int) (guest >>> (clusterBits + l2Bits));
        long table = l1[i] & OFFSET_MASK;
        if (table != 0) {
            if ((table & (clusterSize - 1)) != 0 || table >= fileEnd()) {
                throw Qcow2Header.bad(name, String.format("L2 table at 0x%x for guest offset 0x%x is unaligned or past the end of the file", table, guest));
            }
            return table;
        }
        if (!allocate) return 0;
        table = refcounts.allocate(1);
        FileIo.writeZeros(ch, table, clusterSize);
        l2Cache.putZeroed(table);
        l1[i] = table | COPIED;
        FileIo.writeLong(ch, l1Offset + 8L * i, l1[i], scratch);
        return table;
    }

    private void checkEntry(long entry, long guest) throws BlockException {
        if ((entry & COMPRESSED) != 0) {
            if ((entry & compressedOffsetMask) >= fileEnd()) {
                throw Qcow2Header.bad(name, String.format("compressed cluster for guest offset 0x%x lies past the end of the file", guest));
            }
            return;
        }
        long host = entry & OFFSET_MASK;
        if (host != 0 && ((host & (clusterSize - 1)) != 0 || host >= fileEnd())) {
            throw Qcow2Header.bad(name, String.format("data cluster at 0x%x for guest offset 0x%x is unaligned or past the end of the file", host, guest));
        }
    }

    /**
     * Grows a run of {@code n} bytes at {@code guest} (which ends on a cluster boundary or at the
     * request's end, {@code max}) over the following clusters that can be handled by the same single
     * I/O as {@code entry}: plain clusters at the next host offset, or more zero or unallocated ones.
     */
    private long extendRun(long guest, long entry, long n, long max) throws IOException {
        long expected = (entry & OFFSET_MASK) + (guest & (clusterSize - 1)) + n;
        while (n < max) {
            long next = lookup(guest + n);
            boolean same = isPlain(entry) ? isPlain(next) && (next & OFFSET_MASK) == expected
                    : isZero(entry) ? isZero(next)
                    : next == 0 && entry == 0;
            if (!same) break;
            long more = Math.min(clusterSize, max - n);
            n += more;
            expected += more;
        }
        return n;
    }

    /** A standard cluster with data on disk (not compressed, not a zero cluster, not unallocated). */
    private boolean isPlain(long entry) {
        return (entry & COMPRESSED) == 0 && !isZero(entry) && (entry & OFFSET_MASK) != 0;
    }

    private boolean isZero(long entry) {
        return version >= 3 && (entry & (ZERO | COMPRESSED)) == ZERO;
    }

    private int l2Index(long guest) {
        return (int) ((guest >>> clusterBits) & ((1L << l2Bits) - 1));
    }

    private long fileEnd() {
        return refcounts == null ? openedLength : Math.max(openedLength, refcounts.end());
    }

    // ---- Data ----

    /** Reads what shows through an unallocated cluster: the backing file where it reaches, zeros elsewhere. */
    private void readBacking(long guest, MemorySegment part) throws IOException {
        long n = part.byteSize();
        long fromBacking = backing == null ? 0 : Math.clamp(backing.size() - guest, 0, n);
        if (fromBacking > 0) backing.read(guest, part.asSlice(0, fromBacking));
        if (fromBacking < n) part.asSlice(fromBacking).fill((byte) 0);
    }

    /** Inflates the compressed cluster {@code entry} into the cluster buffer. */
    private void decompress(long entry, long guest) throws IOException {
        long offset = entry & compressedOffsetMask;
        long sectors = ((entry >>> compressedSectorsShift) & compressedSectorsMask) + 1;
        int length = (int) (sectors * 512 - (offset & 511));
        clusterBuffer();
        if (compressedBytes == null) {
            compressedBytes = new byte[(int) (2 * clusterSize)]; // the most the sector count can describe
            inflater = new Inflater(true);                       // qcow2 stores raw deflate, no zlib header
        }
        FileIo.read(ch, offset, ByteBuffer.wrap(compressedBytes, 0, length));
        inflater.reset();
        inflater.setInput(compressedBytes, 0, length);
        int produced = 0;
        try {
            while (produced < clusterSize) {
                int n = inflater.inflate(clusterBytes, produced, (int) clusterSize - produced);
                if (n == 0 && (inflater.finished() || inflater.needsInput() || inflater.needsDictionary())) break;
                produced += n;
            }
        } catch (DataFormatException e) {
            throw Qcow2Header.bad(name, String.format("compressed cluster for guest offset 0x%x is not valid deflate data", guest));
        }
        if (produced < clusterSize) {
            throw Qcow2Header.bad(name, String.format("compressed cluster for guest offset 0x%x holds less than a cluster", guest));
        }
    }

    /** Writes {@code part}, which lies inside one cluster, copying the rest of the cluster first where it must be allocated. */
    private void writeInCluster(long guest, MemorySegment part) throws IOException {
        long table = l2Table(guest, true);
        int index = l2Index(guest);
        long entry = l2Cache.get(table, index);
        checkEntry(entry, guest);
        long host = entry & OFFSET_MASK;
        int inCluster = (int) (guest & (clusterSize - 1));
        boolean compressed = (entry & COMPRESSED) != 0;
        if (isPlain(entry)) {
            // A plain cluster: overwrite in place (its refcount is 1, as images with snapshots open read-only).
            FileIo.write(ch, host + inCluster, part);
            return;
        }
        // A zero cluster with its own preallocated cluster keeps it; anything else gets a new one.
        boolean reuse = !compressed && host != 0 && (entry & COPIED) != 0;
        long target = reuse ? host : refcounts.allocate(1);
        if (part.byteSize() == clusterSize) {
            FileIo.write(ch, target, part);
        } else {
            long clusterStart = guest - inCluster;
            clusterBuffer();
            if (compressed) decompress(entry, guest);
            else if (isZero(entry)) clusterBuf.fill((byte) 0);
            else readBacking(clusterStart, clusterBuf);
            MemorySegment.copy(part, 0, clusterBuf, inCluster, part.byteSize());
            FileIo.write(ch, target, clusterBuf);
        }
        l2Cache.set(table, index, target | COPIED);
        if (!reuse) release(entry);
    }

    private void clusterBuffer() {
        if (clusterBytes == null) {
            clusterBytes = new byte[(int) clusterSize];
            clusterBuf = MemorySegment.ofArray(clusterBytes);
        }
    }

    /** Drops the references an entry that was just replaced held. */
    private void release(long entry) throws IOException {
        if ((entry & COMPRESSED) != 0) {
            // The compressed bytes span whole 512-byte sectors, maybe into the next cluster; each touched cluster holds one reference.
            long sectors = ((entry >>> compressedSectorsShift) & compressedSectorsMask) + 1;
            refcounts.free((entry & compressedOffsetMask) & ~511L, sectors * 512);
        } else if ((entry & OFFSET_MASK) != 0) {
            refcounts.free(entry & OFFSET_MASK, clusterSize);
        }
    }

    // ---- Zeroing, discard, growth ----

    private void zeroRange(long offset, long length, boolean discard) throws IOException {
        long end = offset + length;
        for (long at = offset; at < end; ) {
            long clusterStart = at & -clusterSize;
            long n = Math.min(clusterStart + clusterSize, end) - at;
            // The disk's last cluster may be cut short by the virtual size; the part past it does not count.
            boolean whole = at == clusterStart && (n == clusterSize || at + n == size);
            if (whole) {
                zeroCluster(at, discard);
            } else if (!discard && !readsAsZero(at)) {
                for (long k = 0; k < n; k += Zeros.CHUNK) writeInCluster(at + k, Zeros.of(Math.min(Zeros.CHUNK, n - k)));
            }
            at += n;
        }
    }

    /** Makes one whole cluster read as zeros by changing its entry only (explicit zeros for v2 over a backing file). */
    private void zeroCluster(long guest, boolean discard) throws IOException {
        long target;
        if (backing == null) {
            target = 0;                     // unallocated reads as zeros
        } else if (version >= 3) {
            target = ZERO;                  // the zero flag hides the backing file
        } else {
            if (discard) return;            // v2 cannot hide the backing file without data; discard is only a hint
            long n = Math.min(clusterSize, size - guest);
            for (long k = 0; k < n; k += Zeros.CHUNK) writeInCluster(guest + k, Zeros.of(Math.min(Zeros.CHUNK, n - k)));
            return;
        }
        long table = l2Table(guest, target != 0);
        if (table == 0) return;
        int index = l2Index(guest);
        long old = l2Cache.get(table, index);
        checkEntry(old, guest);
        if (old == target) return;
        l2Cache.set(table, index, target);  // the entry first, so a crash leaks the old cluster rather than sharing it
        release(old);
    }

    private boolean readsAsZero(long guest) throws IOException {
        long entry = lookup(guest);
        return isZero(entry) || (entry == 0 && backing == null);
    }

    /** Makes the L1 table {@code entries} long: in place if its clusters have room, else copied to new clusters at the end. */
    private void growL1(long entries) throws IOException {
        if (entries * 8 > Qcow2Header.MAX_L1_BYTES) {
            throw new BlockException(name + ": the new size needs an L1 table larger than " + Qcow2Header.MAX_L1_BYTES + " bytes; use larger clusters");
        }
        long oldBytes = 8L * l1.length;
        long oldClusters = Math.ceilDiv(oldBytes, clusterSize);
        long newClusters = Math.ceilDiv(entries * 8, clusterSize);
        if (newClusters <= oldClusters) {
            // The slack at the end of the last cluster need not be zero on disk: make it so before it counts.
            FileIo.writeZeros(ch, l1Offset + oldBytes, entries * 8 - oldBytes);
            FileIo.writeInt(ch, Qcow2Header.L1_SIZE_FIELD, (int) entries, scratch);
        } else {
            long newOffset = refcounts.allocate((int) newClusters);
            ByteBuffer out = ByteBuffer.allocate((int) (newClusters * clusterSize));
            out.asLongBuffer().put(l1);
            FileIo.write(ch, newOffset, out);
            // l1_size (36) and l1_table_offset (40) in one write, so the header never pairs a size with the wrong table.
            FileIo.write(ch, Qcow2Header.L1_SIZE_FIELD, ByteBuffer.allocate(12).putInt((int) entries).putLong(newOffset).flip());
            if (oldClusters > 0) refcounts.free(l1Offset, oldClusters * clusterSize);
            l1Offset = newOffset;
        }
        l1 = Arrays.copyOf(l1, (int) entries);
    }

    private void checkWritable() throws BlockException {
        if (readOnly) throw new BlockException(name + " is read-only");
    }
}
