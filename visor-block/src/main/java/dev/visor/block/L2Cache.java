package dev.visor.block;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * A few L2 tables of one qcow2 image kept in memory, decoded to {@code long}s. Write-through: {@link
 * #set} changes the cached copy and the file at once, so the cache never holds unsaved metadata and
 * eviction is free. A slot's buffer is allocated the first time the slot fills and reused from then
 * on (so an image that is barely read, like a deep backing file, costs little); a lookup is a scan of
 * a few keys. Call only with the image's lock held.
 */
final class L2Cache {
    /** The cache's share of memory per image: 4 MiB covers 32 GiB of guest disk at 64 KiB clusters. */
    private static final long BUDGET_BYTES = 4L << 20;
    private static final int MIN_SLOTS = 4;
    private static final int MAX_SLOTS = 64;

    private final FileChannel ch;
    private final int clusterSize;
    /** Host offset of the table in each slot, or -1 when the slot is empty. */
    private final long[] keys;
    private final long[][] tables;
    /** Last use of each slot, for least-recently-used eviction. */
    private final long[] lastUse;
    private long clock;
    /** The slot of the last hit, checked first because requests tend to stay in one table. */
    private int recent;
    /** Read buffer for loading a table, allocated on first use. */
    private ByteBuffer io;
    private final ByteBuffer scratch = ByteBuffer.allocate(8);

    L2Cache(FileChannel ch, int clusterBits) {
        this.ch = ch;
        this.clusterSize = 1 << clusterBits;
        int slots = (int) Math.clamp(BUDGET_BYTES >>> clusterBits, MIN_SLOTS, MAX_SLOTS);
        keys = new long[slots];
        java.util.Arrays.fill(keys, -1);
        tables = new long[slots][];
        lastUse = new long[slots];
    }

    /** Entry {@code index} of the L2 table at host offset {@code table}. */
    long get(long table, int index) throws IOException {
        return tables[slot(table, true)][index];
    }

    /** Sets entry {@code index} of the L2 table at {@code table}, in the cache and in the file. */
    void set(long table, int index, long entry) throws IOException {
        tables[slot(table, true)][index] = entry;
        FileIo.writeLong(ch, table + 8L * index, entry, scratch);
    }

    /** Caches a table just written as all zeros, without reading it back. */
    void putZeroed(long table) throws IOException {
        java.util.Arrays.fill(tables[slot(table, false)], 0);
    }

    private int slot(long table, boolean load) throws IOException {
        if (keys[recent] == table) {
            lastUse[recent] = ++clock;
            return recent;
        }
        int victim = 0;
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] == table) {
                lastUse[i] = ++clock;
                return recent = i;
            }
            if (lastUse[i] < lastUse[victim]) victim = i;
        }
        keys[victim] = -1; // stays empty if the read below fails
        if (tables[victim] == null) tables[victim] = new long[clusterSize / 8];
        if (load) {
            if (io == null) io = ByteBuffer.allocate(clusterSize);
            io.clear();
            FileIo.read(ch, table, io);
            io.flip().asLongBuffer().get(tables[victim]);
        }
        keys[victim] = table;
        lastUse[victim] = ++clock;
        return recent = victim;
    }
}
