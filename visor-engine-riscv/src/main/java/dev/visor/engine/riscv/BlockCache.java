package dev.visor.engine.riscv;

import java.util.Arrays;

/**
 * One hart's translated blocks, by guest-RAM offset of their first instruction: an open-addressing
 * hash table (linear probing, no removal) so that hot blocks anywhere in RAM do not evict each other,
 * plus hashed execution counters that decide when a jump target is hot enough to translate.
 * Emptied as a whole when it fills up. Call only on the hart's thread.
 */
final class BlockCache {
    /**
     * Slots; at most three quarters (49,152 blocks, over twice what a Linux boot makes) are used before
     * the table is emptied. The bound matters: every block is a class with JIT-compiled code, and only
     * blocks dropped from here can be unloaded, so an unbounded cache would fill the code cache.
     */
    private static final int CAPACITY = 1 << 16, MASK = CAPACITY - 1, LIMIT = CAPACITY / 4 * 3;
    private static final int HEAT_SIZE = 1 << 16, HEAT_MASK = HEAT_SIZE - 1;

    private final long[] keys = new long[CAPACITY];
    private final Block[] blocks = new Block[CAPACITY];
    private final short[] heat = new short[HEAT_SIZE];
    private int size;
    /**
     * A small direct-mapped front for {@link #get}, as QEMU's per-CPU jump cache is for its TB hash:
     * the big table is 1.5 MB, so most probes into it miss the CPU caches, while the blocks a
     * workload keeps returning to fit in these 48 KB. Filled by get, kept in step by put and clear.
     */
    private static final int FRONT = 1 << 12, FRONT_MASK = FRONT - 1;
    private final long[] frontKeys = new long[FRONT];
    private final Block[] frontBlocks = new Block[FRONT];

    BlockCache() {
        Arrays.fill(keys, -1L);
        Arrays.fill(frontKeys, -1L);
    }

    private static int hash(long off) {
        long h = (off >>> 1) * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 40);
    }

    /** The block starting at guest-RAM offset {@code off}, or null. */
    Block get(long off) {
        int f = (int) (off >>> 1) & FRONT_MASK;
        if (frontKeys[f] == off) return frontBlocks[f];
        for (int i = hash(off) & MASK; ; i = (i + 1) & MASK) {
            long k = keys[i];
            if (k == off) {
                frontKeys[f] = off;
                frontBlocks[f] = blocks[i];
                return blocks[i];
            }
            if (k == -1L) return null;
        }
    }

    /** Stores (or replaces) the block for {@code off}. */
    void put(long off, Block b) {
        if (size >= LIMIT) clear();
        int f = (int) (off >>> 1) & FRONT_MASK;
        if (frontKeys[f] == off) frontBlocks[f] = b;
        for (int i = hash(off) & MASK; ; i = (i + 1) & MASK) {
            long k = keys[i];
            if (k == off) {
                blocks[i] = b;
                return;
            }
            if (k == -1L) {
                keys[i] = off;
                blocks[i] = b;
                size++;
                return;
            }
        }
    }

    /** Counts one more arrival at {@code off}; true when it has become hot (and restarts its count). */
    boolean heat(long off, int threshold) {
        int i = hash(off) & HEAT_MASK;
        if (++heat[i] < threshold) return false;
        heat[i] = 0;
        return true;
    }

    /** Calls {@code action} with every block in the table. */
    void forEach(java.util.function.Consumer<Block> action) {
        for (Block b : blocks) if (b != null) action.accept(b);
    }

    void clear() {
        Arrays.fill(keys, -1L);
        Arrays.fill(blocks, null);
        Arrays.fill(frontKeys, -1L);
        Arrays.fill(frontBlocks, null);
        size = 0;
    }

    int size() { return size; }
}
