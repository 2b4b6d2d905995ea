package dev.visor.block;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * The header of a qcow2 image (versions 2 and 3) with its extensions, read from the first cluster
 * and checked so that nothing later allocates or seeks according to an absurd field.
 *
 * <pre>
 *   0  magic "QFI\xfb"      4 version            8 backing_file_offset  16 backing_file_size
 *  20  cluster_bits        24 size (virtual)     32 crypt_method        36 l1_size
 *  40  l1_table_offset     48 refcount_table_offset                     56 refcount_table_clusters
 *  60  nb_snapshots        64 snapshots_offset   -- version 2 ends at 72 --
 *  72  incompatible_features   80 compatible_features   88 autoclear_features
 *  96  refcount_order     100 header_length     104 compression_type (if header_length > 104)
 *  then extensions {u32 type, u32 length, data padded to 8} up to type 0, then the backing file name
 * </pre>
 *
 * {@link #read} checks the structure (every table inside the file, sizes capped); {@link
 * #checkUsable} refuses features this implementation cannot honour. {@code info} needs only the first.
 */
final class Qcow2Header {
    static final int MAGIC = 0x514649fb;

    // Header field offsets that are rewritten in place.
    static final int SIZE_FIELD = 24;
    static final int L1_SIZE_FIELD = 36;        // followed directly by l1_table_offset at 40
    static final int REFTABLE_OFFSET_FIELD = 48; // followed directly by refcount_table_clusters at 56
    static final int AUTOCLEAR_FIELD = 88;

    static final int V2_HEADER_LENGTH = 72;
    static final int V3_MIN_HEADER_LENGTH = 104;
    static final int MIN_CLUSTER_BITS = 9;
    /** 2 MiB clusters, the largest QEMU opens; also bounds the per-image cluster buffers. */
    static final int MAX_CLUSTER_BITS = 21;
    /** The L1 table is held in memory: 32 MiB (QEMU's limit too) stops a corrupt header from making us allocate without bound. */
    static final long MAX_L1_BYTES = 32L << 20;
    /** Same reasoning for the refcount table, also held in memory (QEMU's limit too). */
    static final long MAX_REFTABLE_BYTES = 8L << 20;
    static final int MAX_BACKING_NAME = 1023;

    static final int EXT_END = 0;
    static final int EXT_BACKING_FORMAT = 0xe2792aca;
    static final int EXT_FEATURE_NAMES = 0x6803f857;

    static final long INCOMPAT_DIRTY = 1;
    static final long INCOMPAT_CORRUPT = 1 << 1;
    static final long INCOMPAT_DATA_FILE = 1 << 2;
    static final long INCOMPAT_COMPRESSION = 1 << 3;
    static final long INCOMPAT_EXTENDED_L2 = 1 << 4;

    /** "disk image PATH", the start of every message about this image. */
    final String name;
    final int version;
    final int clusterBits;
    final long size;
    final int cryptMethod;
    final long l1Size;
    final long l1TableOffset;
    final long refcountTableOffset;
    final long refcountTableClusters;
    final long snapshotCount;
    final long incompatible;
    final long autoclear;
    final int refcountOrder;
    final int headerLength;
    final int compressionType;
    /** Backing file name as stored (relative names are relative to this image's directory), or null. */
    final String backingFile;
    /** Backing file format from the header extension, or null if the image does not say. */
    final String backingFormat;
    /** Names of incompatible feature bits from the feature name table, for error messages. */
    private final Map<Integer, String> incompatibleNames;

    private Qcow2Header(String name, ByteBuffer b, int headerLength, String backingFile,
                        String backingFormat, Map<Integer, String> incompatibleNames) {
        this.name = name;
        this.version = b.getInt(4);
        this.clusterBits = b.getInt(20);
        this.size = b.getLong(24);
        this.cryptMethod = b.getInt(32);
        this.l1Size = Integer.toUnsignedLong(b.getInt(36));
        this.l1TableOffset = b.getLong(40);
        this.refcountTableOffset = b.getLong(48);
        this.refcountTableClusters = Integer.toUnsignedLong(b.getInt(56));
        this.snapshotCount = Integer.toUnsignedLong(b.getInt(60));
        boolean v3 = version >= 3;
        this.incompatible = v3 ? b.getLong(72) : 0;
        this.autoclear = v3 ? b.getLong(88) : 0;
        this.refcountOrder = v3 ? b.getInt(96) : 4;
        this.headerLength = headerLength;
        this.compressionType = headerLength > 104 ? b.get(104) & 0xff : 0;
        this.backingFile = backingFile;
        this.backingFormat = backingFormat;
        this.incompatibleNames = incompatibleNames;
    }

    long clusterSize() { return 1L << clusterBits; }

    /** Reads and checks the header of the qcow2 image open on {@code ch}; {@code path} names it in messages. */
    static Qcow2Header read(FileChannel ch, String path) throws IOException {
        String name = "disk image " + path;
        long fileSize = ch.size();
        if (fileSize < V2_HEADER_LENGTH) throw bad(name, "truncated qcow2 header (the file is only " + fileSize + " bytes)");
        ByteBuffer fixed = ByteBuffer.allocate(V2_HEADER_LENGTH);
        FileIo.read(ch, 0, fixed);
        if (fixed.getInt(0) != MAGIC) throw new BlockException(name + ": not a qcow2 image (bad magic)");
        int version = fixed.getInt(4);
        if (version != 2 && version != 3) {
            throw new BlockException(name + ": qcow2 version " + Integer.toUnsignedString(version) + " is not supported (only 2 and 3)");
        }
        int clusterBits = fixed.getInt(20);
        if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
            throw bad(name, "cluster_bits " + Integer.toUnsignedString(clusterBits) + " is outside 9..21");
        }
        long clusterSize = 1L << clusterBits;
        // The header and its extensions live in the first cluster; read what of it the file has.
        ByteBuffer first = ByteBuffer.allocate((int) Math.min(clusterSize, fileSize));
        FileIo.read(ch, 0, first);

        int headerLength = V2_HEADER_LENGTH;
        if (version == 3) {
            if (fileSize < V3_MIN_HEADER_LENGTH) throw bad(name, "truncated qcow2 version 3 header (the file is only " + fileSize + " bytes)");
            headerLength = first.getInt(100);
            if (headerLength < V3_MIN_HEADER_LENGTH || headerLength > first.capacity()) {
                throw bad(name, "header_length " + Integer.toUnsignedString(headerLength) + " is outside the first cluster or below 104");
            }
        }

        long backingOffset = first.getLong(8);
        String backingFile = null;
        int extensionsEnd = first.capacity();
        if (backingOffset != 0) {
            long len = Integer.toUnsignedLong(first.getInt(16));
            if (len > MAX_BACKING_NAME) throw bad(name, "backing file name is " + len + " bytes long (at most " + MAX_BACKING_NAME + ")");
            if (backingOffset < headerLength || backingOffset + len > first.capacity()) {
                throw bad(name, "backing file name lies outside the header cluster");
            }
            backingFile = new String(first.array(), (int) backingOffset, (int) len, StandardCharsets.UTF_8);
            extensionsEnd = (int) backingOffset;
        }

        String backingFormat = null;
        Map<Integer, String> incompatibleNames = new HashMap<>();
        int at = headerLength;
        while (at + 8 <= extensionsEnd) {
            int type = first.getInt(at);
            long len = Integer.toUnsignedLong(first.getInt(at + 4));
            if (type == EXT_END) break;
            if (at + 8 + len > extensionsEnd) {
                throw bad(name, String.format("header extension 0x%08x runs past the header area", type));
            }
            int data = at + 8;
            if (type == EXT_BACKING_FORMAT) {
                backingFormat = new String(first.array(), data, (int) len, StandardCharsets.UTF_8);
            } else if (type == EXT_FEATURE_NAMES) {
                for (int e = data; e + 48 <= data + len; e += 48) {
                    if (first.get(e) == 0) incompatibleNames.put(first.get(e + 1) & 0xff, cString(first, e + 2, 46));
                }
            } // other extensions (bitmaps, encryption pointer, data file name) are ignored or refused by feature bits
            at = data + (int) ((len + 7) & ~7L);
        }

        Qcow2Header h = new Qcow2Header(name, first, headerLength, backingFile, backingFormat, incompatibleNames);
        h.checkLayout(fileSize);
        return h;
    }

    /** Checks that sizes are sane and that the tables lie inside the file. */
    private void checkLayout(long fileSize) throws BlockException {
        long clusterSize = clusterSize();
        if (size < 0) throw bad(name, "virtual size is negative");
        if (refcountOrder < 0 || refcountOrder > 6) throw bad(name, "refcount_order " + refcountOrder + " is outside 0..6");

        if (l1Size * 8 > MAX_L1_BYTES) {
            throw bad(name, "L1 table is too large (" + l1Size + " entries, at most " + MAX_L1_BYTES / 8 + ")");
        }
        long bytesPerL1Entry = 1L << (2 * clusterBits - 3); // one L2 table's worth of guest bytes
        if (Math.ceilDiv(size, bytesPerL1Entry) > l1Size) throw bad(name, "L1 table is too small for the virtual size");
        if (l1Size > 0) {
            if ((l1TableOffset & (clusterSize - 1)) != 0) throw bad(name, "L1 table offset is not cluster aligned");
            if (l1TableOffset <= 0 || l1TableOffset > fileSize - l1Size * 8) throw bad(name, "L1 table lies past the end of the file");
        }

        if (refcountTableClusters == 0) throw bad(name, "refcount table is empty");
        if (refcountTableClusters * clusterSize > MAX_REFTABLE_BYTES) {
            throw bad(name, "refcount table is too large (" + refcountTableClusters + " clusters, at most " + MAX_REFTABLE_BYTES + " bytes)");
        }
        if ((refcountTableOffset & (clusterSize - 1)) != 0) throw bad(name, "refcount table offset is not cluster aligned");
        if (refcountTableOffset <= 0 || refcountTableOffset > fileSize - refcountTableClusters * clusterSize) {
            throw bad(name, "refcount table lies past the end of the file");
        }
    }

    /** Refuses images that use a feature this implementation cannot honour (for writing, if {@code readOnly} is false). */
    void checkUsable(boolean readOnly) throws BlockException {
        if (cryptMethod != 0) throw new BlockException(name + ": encrypted qcow2 images are not supported");
        if ((incompatible & INCOMPAT_DIRTY) != 0) {
            throw new BlockException(name + ": image was not closed cleanly (dirty bit set); repair it with 'qemu-img check -r all'");
        }
        if ((incompatible & INCOMPAT_CORRUPT) != 0 && !readOnly) {
            throw new BlockException(name + ": image is marked corrupt; repair it with 'qemu-img check -r all' or open it read-only");
        }
        if ((incompatible & INCOMPAT_DATA_FILE) != 0) throw new BlockException(name + ": external data files are not supported");
        if ((incompatible & INCOMPAT_COMPRESSION) != 0 || compressionType != 0) {
            String type = compressionType == 1 ? "zstd" : "type " + compressionType;
            throw new BlockException(name + ": compression " + type + " is not supported (only zlib); convert the image with 'qemu-img convert'");
        }
        if ((incompatible & INCOMPAT_EXTENDED_L2) != 0) throw new BlockException(name + ": extended L2 entries (subclusters) are not supported");
        long unknown = incompatible & ~(INCOMPAT_DIRTY | INCOMPAT_CORRUPT);
        if (unknown != 0) {
            int bit = Long.numberOfTrailingZeros(unknown);
            String feature = incompatibleNames.containsKey(bit) ? "'" + incompatibleNames.get(bit) + "' (bit " + bit + ")" : "bit " + bit;
            throw new BlockException(name + ": unknown incompatible qcow2 feature " + feature + "; this image needs a newer program");
        }
        if (snapshotCount > 0 && !readOnly) {
            throw new BlockException(name + ": image has " + snapshotCount + " internal snapshots, which can only be opened read-only");
        }
    }

    private static String cString(ByteBuffer b, int at, int max) {
        int len = 0;
        while (len < max && b.get(at + len) != 0) len++;
        return new String(b.array(), at, len, StandardCharsets.UTF_8);
    }

    static BlockException bad(String name, String problem) {
        return new BlockException(name + ": " + problem + " (corrupt image?)");
    }
}
