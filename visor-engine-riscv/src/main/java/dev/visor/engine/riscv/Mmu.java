package dev.visor.engine.riscv;

import java.lang.foreign.ValueLayout;

/**
 * The cold half of memory access for one hart: address translation (Sv39 and Sv48 page walks with
 * hardware A/D updates), TLB refills, MMIO dispatch, misaligned and page-crossing accesses, and
 * the HTIF {@code tohost} hook for bare-metal tests.
 *
 * <p>Only guest-RAM pages enter the TLBs; MMIO always takes this slow path, so device registers see
 * every access. Call only on the hart's own thread.
 */
final class Mmu {
    static final int FETCH = 0, READ = 1, WRITE = 2;

    private final Hart h;
    /** The level of the leaf PTE the last {@link #translate} found: 0 for a 4 KiB page (or no translation), 1 for 2 MiB, 2 for 1 GiB... */
    int leafLevel;

    Mmu(Hart hart) {
        this.h = hart;
    }

    // ---------------------------------------------------------------- translation

    /** Privilege level data accesses are checked at (mstatus.MPRV lets M-mode use MPP's). */
    private int dataPriv() {
        if (h.priv == Hart.PRIV_M && (h.mstatus & Csr.MPRV) != 0) return (int) ((h.mstatus >>> Csr.MPP_SHIFT) & 3);
        return h.priv;
    }

    private static int pageFault(int access) {
        return access == FETCH ? Trap.INSN_PAGE_FAULT : access == READ ? Trap.LOAD_PAGE_FAULT : Trap.STORE_PAGE_FAULT;
    }

    private static int accessFault(int access) {
        return access == FETCH ? Trap.INSN_ACCESS : access == READ ? Trap.LOAD_ACCESS : Trap.STORE_ACCESS;
    }

    /** Translates a virtual address to a guest-physical one, or throws the page fault. */
    long translate(long va, int access) {
        int p = access == FETCH ? h.priv : dataPriv();
        long satp = h.satp;
        int mode = (int) (satp >>> 60);
        leafLevel = 0;
        if (p == Hart.PRIV_M || mode == 0) return va;
        int levels = mode == 9 ? 4 : 3;
        int vaBits = 12 + 9 * levels;
        // the address must be sign-extended from its top bit
        if ((va << (64 - vaBits)) >> (64 - vaBits) != va) throw h.fault(pageFault(access), va);
        long table = (satp & 0xfffffffffffL) << 12;
        for (int level = levels - 1; level >= 0; level--) {
            long pteAddr = table + ((va >>> (12 + 9 * level)) & 0x1ff) * 8;
            if (!h.memory.contains(pteAddr, 8)) throw h.fault(accessFault(access), va);
            long off = pteAddr - h.ramBase;
            long pte = h.ram.get(Hart.LONG, off);
            if ((pte & 1) == 0 || ((pte & 6) == 4)) throw h.fault(pageFault(access), va); // !V, or W without R
            if ((pte & 0xa) == 0) { // pointer to the next level
                if ((pte & 0xd0) != 0) throw h.fault(pageFault(access), va); // D, A, U must be clear on non-leaves
                table = ((pte >>> 10) & 0xfffffffffffL) << 12;
                continue;
            }
            // leaf: permissions
            boolean user = (pte & 0x10) != 0;
            if (p == Hart.PRIV_U && !user) throw h.fault(pageFault(access), va);
            if (p == Hart.PRIV_S && user && (access == FETCH || (h.mstatus & Csr.SUM) == 0)) {
                throw h.fault(pageFault(access), va);
            }
            boolean ok = switch (access) {
                case FETCH -> (pte & 8) != 0;
                case READ -> (pte & 2) != 0 || ((h.mstatus & Csr.MXR) != 0 && (pte & 8) != 0);
                default -> (pte & 4) != 0;
            };
            if (!ok) throw h.fault(pageFault(access), va);
            long ppn = (pte >>> 10) & 0xfffffffffffL;
            long superMask = (1L << (9 * level)) - 1;
            if ((ppn & superMask) != 0) throw h.fault(pageFault(access), va); // misaligned superpage
            // accessed / dirty, set by the walker (as with Svadu), atomically against other harts
            long want = pte | 0x40 | (access == WRITE ? 0x80 : 0);
            if (want != pte) {
                if ((off & 7) != 0) throw h.fault(accessFault(access), va);
                if (!(boolean) Hart.ATOMIC_LONG.compareAndSet(h.ram, off, pte, want)) {
                    return translate(va, access); // changed under us: walk again
                }
                h.memory.markDirty(pteAddr);
            }
            leafLevel = level;
            return ((ppn & ~superMask) << 12) | (va & ((superMask << 12) | 0xfff));
        }
        throw h.fault(pageFault(access), va);
    }

    // ---------------------------------------------------------------- TLB refills

    /** Fills the fetch TLB for the page of {@code pc}; throws the fetch fault otherwise. */
    void fillFetch(long pc) {
        long pa = translate(pc, FETCH);
        if (!h.memory.contains(pa & ~0xfffL, 4096)) throw h.fault(Trap.INSN_ACCESS, pc);
        int i = (int) (pc >>> 12) & Hart.TLB_MASK;
        h.fetchTag[i] = (pc >>> 12) | h.fetchCtx;
        h.fetchLevel[i] = h.noteLevel(leafLevel);
        h.fetchOff[i] = (pa & ~0xfffL) - h.ramBase;
    }

    /** Reads the 16-bit upper half of an instruction that straddles a page boundary. */
    int fetchHalf(long va) {
        long pa = translate(va, FETCH);
        if (!h.memory.contains(pa, 2)) throw h.fault(Trap.INSN_ACCESS, va);
        return h.ram.get(Hart.SHORT, pa - h.ramBase) & 0xffff;
    }

    long loadSlow(long va, int size) {
        if ((va & 0xfff) + size > 4096) { // crosses a page: byte by byte, each byte translated
            long v = 0;
            for (int k = 0; k < size; k++) v |= (h.load8(va + k) & 0xffL) << (8 * k);
            return v;
        }
        long pa = translate(va, READ);
        if (h.memory.contains(pa, size)) {
            int i = (int) (va >>> 12) & Hart.TLB_MASK;
            h.readTag[i] = (va >>> 12) | h.dataCtx;
            h.readLevel[i] = h.noteLevel(leafLevel);
            h.readOff[i] = h.ramAddress + (pa & ~0xfffL) - h.ramBase;
            long off = pa - h.ramBase;
            return switch (size) {
                case 1 -> h.ram.get(ValueLayout.JAVA_BYTE, off);
                case 2 -> h.ram.get(Hart.SHORT, off);
                case 4 -> h.ram.get(Hart.INT, off);
                default -> h.ram.get(Hart.LONG, off);
            };
        }
        if ((pa & (size - 1)) != 0) throw h.fault(Trap.LOAD_MISALIGNED, va);
        if (h.bus.isMapped(pa, size)) return h.bus.read(pa, size);
        throw h.fault(Trap.LOAD_ACCESS, va);
    }

    void storeSlow(long va, int size, long v) {
        if ((va & 0xfff) + size > 4096) {
            // check both pages first so a faulting second page leaves the first untouched
            translate(va, WRITE);
            translate(va + size - 1, WRITE);
            for (int k = 0; k < size; k++) h.store8(va + k, v >>> (8 * k));
            return;
        }
        long pa = translate(va, WRITE);
        if (h.memory.contains(pa, size)) {
            long off = pa - h.ramBase;
            h.memory.markDirty(pa);
            if (h.group.htifToHost >= 0 && (pa & ~0xfffL) == (h.group.htifToHost & ~0xfffL)) {
                // the page holding tohost never enters the TLB, so every store to it is seen here
                writeRam(off, size, v);
                // pass the whole tohost word: a narrower store (riscv-tests' sw) does not store v's upper bits
                if (pa == h.group.htifToHost) h.group.htifWrite(h, h.ram.get(Hart.LONG, off));
                return;
            }
            int i = (int) (va >>> 12) & Hart.TLB_MASK;
            h.writeTag[i] = (va >>> 12) | h.dataCtx;
            h.writeLevel[i] = h.noteLevel(leafLevel);
            h.writeOff[i] = h.ramAddress + (pa & ~0xfffL) - h.ramBase;
            writeRam(off, size, v);
            return;
        }
        if ((pa & (size - 1)) != 0) throw h.fault(Trap.STORE_MISALIGNED, va);
        if (h.bus.isMapped(pa, size)) {
            h.bus.write(pa, size, v);
            return;
        }
        throw h.fault(Trap.STORE_ACCESS, va);
    }

    private void writeRam(long off, int size, long v) {
        switch (size) {
            case 1 -> h.ram.set(ValueLayout.JAVA_BYTE, off, (byte) v);
            case 2 -> h.ram.set(Hart.SHORT, off, (short) v);
            case 4 -> h.ram.set(Hart.INT, off, (int) v);
            default -> h.ram.set(Hart.LONG, off, v);
        }
    }

    /** Translates an AMO/LR/SC address (write permission, except LR), checks alignment and that it is RAM. */
    long atomicOffset(long va, int size, boolean forWrite) {
        if ((va & (size - 1)) != 0) throw h.fault(forWrite ? Trap.STORE_MISALIGNED : Trap.LOAD_MISALIGNED, va);
        // The data TLB first, as for plain loads and stores: Linux's spinlocks and page reference
        // counts are atomics, and a page walk for each was 5 % of a disk read's vCPU time. A write
        // entry means the page is guest RAM, writable and already marked dirty (see storeSlow).
        long vpn = va >>> 12;
        int i = (int) vpn & Hart.TLB_MASK;
        if (forWrite) {
            if (h.writeTag[i] == (vpn | h.dataCtx)) return h.writeOff[i] - h.ramAddress + (va & 0xfff);
        } else if (h.readTag[i] == (vpn | h.dataCtx)) {
            return h.readOff[i] - h.ramAddress + (va & 0xfff);
        }
        long pa = translate(va, forWrite ? WRITE : READ);
        if (!h.memory.contains(pa, size)) throw h.fault(forWrite ? Trap.STORE_ACCESS : Trap.LOAD_ACCESS, va);
        if (forWrite) h.memory.markDirty(pa);
        return pa - h.ramBase;
    }
}
