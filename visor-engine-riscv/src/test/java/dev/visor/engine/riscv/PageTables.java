package dev.visor.engine.riscv;

import dev.visor.machine.GuestMemory;

/** Builds Sv39/Sv48 page tables by hand in guest memory, allocating table pages from an area. */
final class PageTables {
    static final long V = 1, R = 2, W = 4, X = 8, U = 16, G = 32, A = 64, D = 128;
    static final long RW = V | R | W, RX = V | R | X, RWX = V | R | W | X;

    final GuestMemory memory;
    final int levels;
    final long root;
    private long next;

    /** @param levels 3 for Sv39, 4 for Sv48; tables are allocated from {@code area} upward */
    PageTables(GuestMemory memory, int levels, long area) {
        this.memory = memory;
        this.levels = levels;
        this.root = area;
        this.next = area + 4096;
        clear(root);
    }

    private void clear(long page) {
        for (int i = 0; i < 512; i++) memory.writeLong(page + 8L * i, 0);
    }

    /** The satp value selecting these tables. */
    long satp() {
        return ((levels == 4 ? 9L : 8L) << 60) | (root >>> 12);
    }

    static int index(long va, int level) {
        return (int) ((va >>> (12 + 9 * level)) & 0x1ff);
    }

    /**
     * Maps the page at {@code va} of size 4 KiB << (9 * level) (level 0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB,
     * 3 = 512 GiB) to {@code pa} with PTE {@code flags}. Returns the address of the leaf PTE.
     */
    long map(long va, long pa, int level, long flags) {
        long table = root;
        for (int l = levels - 1; l > level; l--) {
            long pteAddr = table + 8L * index(va, l);
            long pte = memory.readLong(pteAddr);
            if ((pte & V) == 0) {
                long page = next;
                next += 4096;
                clear(page);
                pte = ((page >>> 12) << 10) | V;
                memory.writeLong(pteAddr, pte);
            } else if ((pte & (R | W | X)) != 0) {
                throw new IllegalStateException("a leaf is in the way at level " + l);
            }
            table = ((pte >>> 10) & 0xfff_ffff_ffffL) << 12;
        }
        long leaf = table + 8L * index(va, level);
        memory.writeLong(leaf, ((pa >>> 12) << 10) | flags);
        return leaf;
    }

    /** Address of the level-{@code level} PTE slot for {@code va} (the tables above it must exist). */
    long pteAddress(long va, int level) {
        long table = root;
        for (int l = levels - 1; l > level; l--) {
            long pte = memory.readLong(table + 8L * index(va, l));
            table = ((pte >>> 10) & 0xfff_ffff_ffffL) << 12;
        }
        return table + 8L * index(va, level);
    }

    long pte(long va, int level) { return memory.readLong(pteAddress(va, level)); }
}
