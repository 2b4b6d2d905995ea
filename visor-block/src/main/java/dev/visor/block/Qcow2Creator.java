package dev.visor.block;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;

/**
 * Writes a new, empty qcow2 version 3 image, laid out as {@code qemu-img create -f qcow2} does by
 * default (64 KiB clusters, 16-bit refcounts, zlib):
 * <pre>
 *   cluster 0: header (112 bytes), backing-format extension, end marker, backing file name
 *   cluster 1: refcount table (one cluster; it grows on demand)
 *   cluster 2: refcount block 0 (counts clusters 0 .. 3 + L1 clusters, all 1)
 *   cluster 3: L1 table (all entries empty), as many clusters as the virtual size needs
 * </pre>
 */
final class Qcow2Creator {
    static final int DEFAULT_CLUSTER_BITS = 16;
    private static final int REFCOUNT_ORDER = 4; // 16-bit refcounts
    private static final int HEADER_LENGTH = 112; // 104 plus the compression_type byte, padded to 8

    private Qcow2Creator() {}

    /**
     * Writes the image to {@code ch} (an empty file). {@code size} is rounded up to a multiple of 512.
     * {@code backingName} is stored as given (null: none); {@code backingFormat} may be null.
     */
    static void write(FileChannel ch, String name, long size, String backingName, String backingFormat, int clusterBits) throws IOException {
        long clusterSize = 1L << clusterBits;
        size = Math.ceilDiv(size, 512) * 512;
        long l1Entries = Math.ceilDiv(size, 1L << (2 * clusterBits - 3));
        if (l1Entries * 8 > Qcow2Header.MAX_L1_BYTES) {
            throw new BlockException(name + ": virtual size " + size + " bytes is too large for " + clusterSize + "-byte clusters");
        }
        long l1Clusters = Math.max(1, Math.ceilDiv(l1Entries * 8, clusterSize));
        long metadataClusters = 3 + l1Clusters;
        if (metadataClusters > (clusterSize * 8) >> REFCOUNT_ORDER) {
            throw new BlockException(name + ": virtual size " + size + " bytes is too large for " + clusterSize + "-byte clusters");
        }

        ByteBuffer header = ByteBuffer.allocate((int) clusterSize);
        header.putInt(0, Qcow2Header.MAGIC)
              .putInt(4, 3)
              .putInt(20, clusterBits)
              .putLong(24, size)
              .putInt(36, (int) l1Entries)
              .putLong(40, 3 * clusterSize)
              .putLong(48, clusterSize)
              .putInt(56, 1)
              .putInt(96, REFCOUNT_ORDER)
              .putInt(100, HEADER_LENGTH);
        header.position(HEADER_LENGTH);
        if (backingFormat != null) {
            byte[] format = backingFormat.getBytes(StandardCharsets.UTF_8);
            header.putInt(Qcow2Header.EXT_BACKING_FORMAT).putInt(format.length).put(format);
            header.position((header.position() + 7) & ~7);
        }
        header.putInt(Qcow2Header.EXT_END).putInt(0);
        if (backingName != null) {
            byte[] backing = backingName.getBytes(StandardCharsets.UTF_8);
            if (backing.length > Qcow2Header.MAX_BACKING_NAME || header.position() + backing.length > clusterSize) {
                throw new BlockException(name + ": backing file name is longer than " + Qcow2Header.MAX_BACKING_NAME + " bytes");
            }
            header.putLong(8, header.position()).putInt(16, backing.length).put(backing);
        }
        header.clear();
        FileIo.write(ch, 0, header);

        ByteBuffer reftable = ByteBuffer.allocate((int) clusterSize).putLong(0, 2 * clusterSize);
        FileIo.write(ch, clusterSize, reftable);

        ByteBuffer block = ByteBuffer.allocate((int) clusterSize);
        for (int c = 0; c < metadataClusters; c++) block.putShort(2 * c, (short) 1);
        FileIo.write(ch, 2 * clusterSize, block);

        FileIo.writeZeros(ch, 3 * clusterSize, l1Clusters * clusterSize);
        ch.force(true);
    }
}
