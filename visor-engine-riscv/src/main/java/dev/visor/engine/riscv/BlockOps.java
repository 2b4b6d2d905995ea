package dev.visor.engine.riscv;

/** Small static helpers that translated blocks call; HotSpot inlines them into the block's code. */
final class BlockOps {
    private BlockOps() {}

    public static long slt(long a, long b) { return a < b ? 1 : 0; }

    public static long sltu(long a, long b) { return Long.compareUnsigned(a, b) < 0 ? 1 : 0; }

    public static int cmpu(long a, long b) { return Long.compareUnsigned(a, b); }

    public static long mulDiv(int f3, long a, long b) { return Alu.mulDiv(f3, a, b); }

    /** mulw, divw, divuw, remw, remuw (funct3 0, 4..7; never illegal here). */
    public static int mulDivW(int f3, int a, int b) { return Alu.mulDivWord(f3, a, b); }
}
