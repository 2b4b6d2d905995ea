package dev.visor.engine.riscv;

import java.lang.foreign.MemorySegment;

/**
 * Guest code translated to JVM bytecode by {@link BlockTranslator}: a region of integer and atomic
 * instructions in one page, entered at one address, with the page's branches between them as jumps
 * inside it (see BlockTranslator), or a single straight-line block.
 *
 * <p>A block is keyed by the guest-physical address of its first instruction and is position
 * independent: {@link #run} takes the virtual pc, so every mapping of the page shares it.
 *
 * <p>Code that changes: a block carries the instruction bytes it was made from and {@link #matches}
 * compares them with guest RAM, so changed code simply misses and is translated again. The compare
 * runs once per <em>code epoch</em>, not on every entry: the RISC-V rule is that a hart sees its own
 * or anyone's stores to instructions only after a {@code fence.i} (Linux issues one, locally and
 * through SBI on the other harts, after loading modules, mapping executable pages and patching
 * code), so every fence.i starts a new epoch and each block is checked again on its next entry.
 */
abstract class Block {
    /** Guest-physical address of the first instruction. */
    long physAddr;
    /**
     * Offset of the block in guest RAM, and the instruction bytes it was translated from as little-endian
     * longs (eight bytes per compare: this check runs on every entry); the last one is masked to the block.
     */
    long ramOffset;
    /** Guest-RAM offset of the lowest instruction byte (a region may hold code below its entry); {@link #words} start here. */
    long codeStart;
    long[] words;
    /** Mask of the bytes of the last element of {@link #words} that belong to the block (-1: all eight). */
    long lastMask;
    /** Elements of {@link #words} that are whole longs; a last, partial one holds the 2, 4 or 6 tail bytes. */
    int fullWords;
    int tailBytes;
    /** Byte offset of each instruction from the entry, in address order (for the pc of a faulting one). */
    short[] offsets;
    /** Instructions in the block. */
    int count;
    /**
     * The blocks at this block's static exits (taken branches, jal, and optionally jalr right after
     * the auipc that set its base: see BlockTranslator#staticJalr), indexed by exit site: a translated
     * block calls its successor directly instead of returning to the dispatcher, and each such call
     * site sees one successor class, so HotSpot can bind it directly. Linked by the dispatcher the
     * first time an exit is taken. An exit to another page (whose mapping can change) first finds the
     * target's guest-RAM offset through the fetch TLB and compares it with the linked block's; a
     * successor whose code changed fails {@link #valid}. Either way the exit returns to the
     * dispatcher, which links the block found there. With call returns on, a call (a jal or jalr that
     * links) has a second element, the block at its return site, which the caller calls when the
     * callee returns there. Other jalr return to the dispatcher.
     */
    Block[] exits;
    /** The block execution went on to last time, and its guest-RAM offset (-1: none); a hint, checked on use. */
    Block next;
    long nextOffset = -1;

    /**
     * Runs the block with the guest's registers in {@code x} and {@code pc} the virtual address of its
     * first instruction; returns the pc to continue at, having set {@link Hart#blockExecuted}. A trap leaves the registers as they were after
     * the last completed instruction and sets {@link Hart#blockFaultIndex} to the faulting one.
     */
    abstract long run(Hart h, long[] x, long pc);

    /** Guest instructions run in this block, counted only while {@link BlockProfile#ON}. */
    long profiledInstructions;

    /** Bumped by every fence.i on any hart: blocks checked in an older epoch are compared again. */
    static volatile int codeEpoch;
    /** The epoch in which this block last matched guest RAM. */
    int checkedEpoch;

    /** True when the block may run: it matched guest RAM since the last fence.i, or matches now. */
    final boolean valid(MemorySegment ram) {
        int e = codeEpoch;
        if (checkedEpoch == e) return true;
        if (!matches(ram)) return false;
        checkedEpoch = e; // a fence.i meanwhile leaves e stale, so the block is checked again: safe
        return true;
    }

    /** Starts a new code epoch (fence.i). */
    static void codeChanged() {
        codeEpoch++; // racy increments may merge, but any increment invalidates every older check
    }

    /** True while guest RAM still holds the instructions this block was made from. */
    final boolean matches(MemorySegment ram) {
        long[] w = words;
        long off = codeStart;
        int full = fullWords;
        for (int i = 0; i < full; i++) {
            if (ram.get(Hart.LONG, off + 8L * i) != w[i]) return false;
        }
        if (full == w.length) return true;
        // the tail is read exactly, never past the block (which may end at the end of RAM)
        long t = off + 8L * full;
        long v = switch (tailBytes) {
            case 2 -> ram.get(Hart.SHORT, t) & 0xffffL;
            case 4 -> ram.get(Hart.INT, t) & 0xffffffffL;
            default -> (ram.get(Hart.INT, t) & 0xffffffffL) | ((ram.get(Hart.SHORT, t + 4) & 0xffffL) << 32);
        };
        return v == w[full];
    }
}
