package dev.visor.engine.riscv;

import java.lang.invoke.VarHandle;

/**
 * The A extension: LR/SC and AMOs on guest RAM, atomic across harts (each hart is a host thread).
 *
 * <p>SC succeeds when this hart holds a reservation on the address and memory still holds the value
 * LR read (a compare-and-set), the usual emulator rendering of a reservation set of one word.
 * AMOs on MMIO are refused with an access fault; nothing on this board needs them.
 */
final class Atomics {
    private Atomics() {}

    /** Whether funct5 {@code op} is an LR, SC or AMO that RV64A defines. */
    static boolean isDefined(int op) {
        return switch (op) {
            case 0x00, 0x01, 0x02, 0x03, 0x04, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x1c -> true;
            default -> false;
        };
    }

    /**
     * Runs LR/SC/AMO {@code insn} with rs1's value {@code va} and rs2's value {@code src}; returns the
     * value for rd. The interpreter ({@link #execute}) and translated blocks both come here.
     */
    static long apply(Hart h, int insn, long va, long src) {
        int f3 = (insn >>> 12) & 7;
        if (f3 == 2) return word(h, insn >>> 27, va, (int) src, insn);
        if (f3 == 3) return dword(h, insn >>> 27, va, src, insn);
        throw h.fault(Trap.ILLEGAL, insn);
    }

    static void execute(Hart h, int insn) {
        h.x[(insn >>> 7) & 31] = apply(h, insn, h.x[(insn >>> 15) & 31], h.x[(insn >>> 20) & 31]);
    }

    private static long word(Hart h, int op, long va, int src, int insn) {
        var ram = h.ram;
        VarHandle vh = Hart.ATOMIC_INT;
        switch (op) {
            case 0x02: { // lr.w
                if (((insn >>> 20) & 31) != 0) throw h.fault(Trap.ILLEGAL, insn);
                long off = h.mmu.atomicOffset(va, 4, false);
                int v = (int) vh.getVolatile(ram, off);
                h.reservation = off;
                h.reservationValue = v;
                return v;
            }
            case 0x03: { // sc.w
                long off = h.mmu.atomicOffset(va, 4, true);
                boolean ok = h.reservation == off && vh.compareAndSet(ram, off, (int) h.reservationValue, src);
                h.reservation = -1;
                return ok ? 0 : 1;
            }
            default:
        }
        long off = h.mmu.atomicOffset(va, 4, true);
        return switch (op) {
            case 0x01 -> (int) vh.getAndSet(ram, off, src);
            case 0x00 -> (int) vh.getAndAdd(ram, off, src);
            case 0x04 -> (int) vh.getAndBitwiseXor(ram, off, src);
            case 0x0c -> (int) vh.getAndBitwiseAnd(ram, off, src);
            case 0x08 -> (int) vh.getAndBitwiseOr(ram, off, src);
            case 0x10, 0x14, 0x18, 0x1c -> {
                int old;
                do {
                    old = (int) vh.getVolatile(ram, off);
                } while (!vh.compareAndSet(ram, off, old, minMax32(op, old, src)));
                yield old;
            }
            default -> throw h.fault(Trap.ILLEGAL, insn);
        };
    }

    private static long dword(Hart h, int op, long va, long src, int insn) {
        var ram = h.ram;
        VarHandle vh = Hart.ATOMIC_LONG;
        switch (op) {
            case 0x02: {
                if (((insn >>> 20) & 31) != 0) throw h.fault(Trap.ILLEGAL, insn);
                long off = h.mmu.atomicOffset(va, 8, false);
                long v = (long) vh.getVolatile(ram, off);
                h.reservation = off;
                h.reservationValue = v;
                return v;
            }
            case 0x03: {
                long off = h.mmu.atomicOffset(va, 8, true);
                boolean ok = h.reservation == off && vh.compareAndSet(ram, off, h.reservationValue, src);
                h.reservation = -1;
                return ok ? 0 : 1;
            }
            default:
        }
        long off = h.mmu.atomicOffset(va, 8, true);
        return switch (op) {
            case 0x01 -> (long) vh.getAndSet(ram, off, src);
            case 0x00 -> (long) vh.getAndAdd(ram, off, src);
            case 0x04 -> (long) vh.getAndBitwiseXor(ram, off, src);
            case 0x0c -> (long) vh.getAndBitwiseAnd(ram, off, src);
            case 0x08 -> (long) vh.getAndBitwiseOr(ram, off, src);
            case 0x10, 0x14, 0x18, 0x1c -> {
                long old;
                do {
                    old = (long) vh.getVolatile(ram, off);
                } while (!vh.compareAndSet(ram, off, old, minMax64(op, old, src)));
                yield old;
            }
            default -> throw h.fault(Trap.ILLEGAL, insn);
        };
    }

    private static int minMax32(int op, int a, int b) {
        return switch (op) {
            case 0x10 -> Math.min(a, b);
            case 0x14 -> Math.max(a, b);
            case 0x18 -> Integer.compareUnsigned(a, b) <= 0 ? a : b;
            default -> Integer.compareUnsigned(a, b) >= 0 ? a : b;
        };
    }

    private static long minMax64(int op, long a, long b) {
        return switch (op) {
            case 0x10 -> Math.min(a, b);
            case 0x14 -> Math.max(a, b);
            case 0x18 -> Long.compareUnsigned(a, b) <= 0 ? a : b;
            default -> Long.compareUnsigned(a, b) >= 0 ? a : b;
        };
    }
}
