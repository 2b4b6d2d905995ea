package dev.visor.block;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.Arrays;

/**
 * Reference counts of a qcow2 image's host clusters, and the allocator that hands out new clusters.
 * Call only with the image's lock held.
 *
 * <pre>
 *   refcount table (contiguous, in memory)      refcount block (one cluster on disk)
 *   [ block offset | 0 ] ---------------------> [ n0 | n1 | n2 | ... ]  refcount_bits wide, big-endian;
 *     index = cluster / entriesPerBlock            index = cluster % entriesPerBlock; widths below 8
 *                                                  bits pack from the least significant bit of a byte
 * </pre>
 *
 * <p>Implementation overview: allocation is append-only: new clusters come from {@link #end} onward,
 * clusters freed by discard stay unused until a tool like {@code qemu-img convert} compacts the
 * image. That keeps allocation O(1) and means a cluster freed while a reader still maps it is never
 * handed to other data. A new refcount block is placed at the end of the file too; if the table has
 * no room for its index the table is copied to a larger place at the end, with the header switched
 * to it only once it is complete, and the old one freed. Each change goes to disk as it is made (the
 * table entry after the block it points to), so a crash leaks clusters at worst.
 */
final class RefcountTable {
    private final FileChannel ch;
    private final String name;
    private final int clusterBits;
    private final int refcountBits;
    /** log2 of the entries in one refcount block. */
    private final int blockEntriesBits;
    /** Largest refcount an entry can hold (as unsigned). */
    private final long maxRefcount;
    private final ByteBuffer scratch = ByteBuffer.allocate(8);

    private long tableOffset;
    private long[] table;
    /** While the table moves, entries are changed only in memory; the whole new table is written at the end. */
    private boolean moving;
    /** Index of the first cluster past everything in use: where the next allocation goes. */
    private long endCluster;

    private RefcountTable(FileChannel ch, Qcow2Header h, long[] table, long fileSize) {
        this.ch = ch;
        this.name = h.name;
        this.clusterBits = h.clusterBits;
        this.refcountBits = 1 << h.refcountOrder;
        this.blockEntriesBits = h.clusterBits + 3 - h.refcountOrder;
        this.maxRefcount = refcountBits == 64 ? -1L : (1L << refcountBits) - 1;
        this.tableOffset = h.refcountTableOffset;
        this.table = table;
        this.endCluster = Math.ceilDiv(fileSize, 1L << clusterBits);
    }

    /** Reads the refcount table named by {@code h} (whose size and place {@link Qcow2Header} has checked). */
    static RefcountTable load(FileChannel ch, Qcow2Header h) throws IOException {
        long fileSize = ch.size();
        ByteBuffer raw = ByteBuffer.allocate((int) (h.refcountTableClusters << h.clusterBits));
        FileIo.read(ch, h.refcountTableOffset, raw);
        long[] table = new long[raw.capacity() / 8];
        raw.flip().asLongBuffer().get(table);
        for (long e : table) {
            long offset = e & ~0x1ffL;
            if ((offset & ((1L << h.clusterBits) - 1)) != 0 || offset < 0 || offset >= fileSize) {
                throw Qcow2Header.bad(h.name, String.format("refcount block offset 0x%x is unaligned or past the end of the file", offset));
            }
        }
        return new RefcountTable(ch, h, table, fileSize);
    }

    /** Byte offset just past the last cluster in use. */
    long end() { return endCluster << clusterBits; }

    /** Allocates {@code n} contiguous clusters at the end of the file with refcount 1; returns the byte offset of the first. */
    long allocate(int n) throws IOException {
        // Clusters past the end of the file should all be free; skip any that are not rather than share them.
        long first = endCluster;
        for (long c = first; c < first + n; c++) {
            if (get(c) != 0) first = c + 1;
        }
        if (first + n > (1L << (56 - clusterBits))) throw new BlockException(name + ": image file would exceed the 64 PiB qcow2 limit");
        endCluster = first + n;
        for (long c = first; c < first + n; c++) adjust(c, 1);
        return first << clusterBits;
    }

    /** Drops one reference to each cluster that overlaps [offset, offset + length). */
    void free(long offset, long length) throws IOException {
        long last = (offset + length - 1) >>> clusterBits;
        for (long c = offset >>> clusterBits; c <= last; c++) adjust(c, -1);
    }

    /** The refcount of host cluster number {@code cluster}. */
    long get(long cluster) throws IOException {
        long block = blockFor(cluster);
        return block == 0 ? 0 : readEntry(block, cluster & ((1L << blockEntriesBits) - 1));
    }

    /** Adds {@code delta} (+1 or -1) to a cluster's refcount; refuses to overflow or go below zero. */
    void adjust(long cluster, int delta) throws IOException {
        long index = cluster & ((1L << blockEntriesBits) - 1);
        long block = blockFor(cluster);
        long old = block == 0 ? 0 : readEntry(block, index);
        if (delta > 0 && old == maxRefcount) {
            throw new BlockException(name + String.format(": refcount of cluster at 0x%x would overflow its %d-bit field", cluster << clusterBits, refcountBits));
        }
        if (delta < 0 && old == 0) {
            throw Qcow2Header.bad(name, String.format("refcount of cluster at 0x%x would drop below zero", cluster << clusterBits));
        }
        if (block == 0) block = newBlock(cluster >>> blockEntriesBits);
        writeEntry(block, index, old + delta);
    }

    private long blockFor(long cluster) {
        long t = cluster >>> blockEntriesBits;
        return t < table.length ? table[(int) t] & ~0x1ffL : 0;
    }

    /** Adds a zeroed refcount block for table index {@code t} at the end of the file and returns its offset. */
    private long newBlock(long t) throws IOException {
        if (t >= table.length) {
            grow(t + 1);
            // Growing may itself have created this block, to count the new table's clusters.
            if (table[(int) t] != 0) return table[(int) t] & ~0x1ffL;
        }
        long blockCluster = endCluster++;
        long offset = blockCluster << clusterBits;
        FileIo.writeZeros(ch, offset, 1L << clusterBits);
        table[(int) t] = offset;
        publish((int) t);
        adjust(blockCluster, 1); // the block's own refcount: usually in itself, else in another new block
        return offset;
    }

    /** Moves the table to a larger place at the end of the file, with room for at least {@code minEntries}. */
    private void grow(long minEntries) throws IOException {
        if (moving) throw new IllegalStateException("refcount table grew while moving");
        long entriesPerCluster = 1L << (clusterBits - 3);
        // Doubling leaves room for the refcount blocks that cover the new table itself.
        long entries = Math.max(minEntries + 1, (long) table.length * 2);
        long clusters = Math.ceilDiv(entries, entriesPerCluster);
        if (clusters << clusterBits > Qcow2Header.MAX_REFTABLE_BYTES) {
            throw new BlockException(name + ": image too large: its refcount table would exceed " + Qcow2Header.MAX_REFTABLE_BYTES + " bytes");
        }
        long oldOffset = tableOffset;
        int oldClusters = (int) ((long) table.length / entriesPerCluster);
        long newFirst = endCluster;
        endCluster += clusters;
        table = Arrays.copyOf(table, (int) (clusters * entriesPerCluster));
        moving = true;
        try {
            for (long c = newFirst; c < newFirst + clusters; c++) adjust(c, 1);
        } finally {
            moving = false;
        }
        long newOffset = newFirst << clusterBits;
        ByteBuffer out = ByteBuffer.allocate((int) (clusters << clusterBits));
        out.asLongBuffer().put(table);
        FileIo.write(ch, newOffset, out);
        // Switch the header: offset (48) and cluster count (56) in one write.
        ByteBuffer fields = ByteBuffer.allocate(12).putLong(newOffset).putInt((int) clusters).flip();
        FileIo.write(ch, Qcow2Header.REFTABLE_OFFSET_FIELD, fields);
        tableOffset = newOffset;
        free(oldOffset, (long) oldClusters << clusterBits);
    }

    private void publish(int t) throws IOException {
        if (!moving) FileIo.writeLong(ch, tableOffset + 8L * t, table[t], scratch);
    }

    private long readEntry(long block, long index) throws IOException {
        long bit = index * refcountBits;
        int bytes = Math.max(1, refcountBits / 8);
        scratch.clear().limit(bytes);
        FileIo.read(ch, block + bit / 8, scratch);
        if (refcountBits < 8) return (scratch.get(0) >>> (bit % 8)) & maxRefcount;
        long v = 0;
        for (int i = 0; i < bytes; i++) v = (v << 8) | (scratch.get(i) & 0xff);
        return v;
    }

    private void writeEntry(long block, long index, long value) throws IOException {
        long bit = index * refcountBits;
        int bytes = Math.max(1, refcountBits / 8);
        if (refcountBits < 8) {
            scratch.clear().limit(1);
            FileIo.read(ch, block + bit / 8, scratch);
            int shift = (int) (bit % 8);
            int b = (scratch.get(0) & ~((int) maxRefcount << shift)) | ((int) value << shift);
            scratch.put(0, (byte) b);
        } else {
            for (int i = bytes - 1; i >= 0; i--, value >>>= 8) scratch.put(i, (byte) value);
        }
        scratch.clear().limit(bytes);
        FileIo.write(ch, block + bit / 8, scratch);
    }
}
