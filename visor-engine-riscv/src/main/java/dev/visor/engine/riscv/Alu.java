package dev.visor.engine.riscv;

/** The M extension: multiply and divide with RISC-V's rules for division by zero and overflow (no traps). */
final class Alu {
    private Alu() {}

    /** OP with funct7 = 1 (mul, mulh, mulhsu, mulhu, div, divu, rem, remu) on 64-bit operands. */
    static long mulDiv(int f3, long a, long b) {
        return switch (f3) {
            case 0 -> a * b;
            case 1 -> Math.multiplyHigh(a, b);
            case 2 -> Math.multiplyHigh(a, b) + (b < 0 ? a : 0); // a signed, b unsigned
            case 3 -> Math.unsignedMultiplyHigh(a, b);
            case 4 -> b == 0 ? -1 : (a == Long.MIN_VALUE && b == -1) ? a : a / b;
            case 5 -> b == 0 ? -1 : Long.divideUnsigned(a, b);
            case 6 -> b == 0 ? a : (a == Long.MIN_VALUE && b == -1) ? 0 : a % b;
            default -> b == 0 ? a : Long.remainderUnsigned(a, b);
        };
    }

    /** OP-32 with funct7 = 1 (mulw, divw, divuw, remw, remuw); results sign-extended from 32 bits. */
    static long mulDivW(int f3, int a, int b, int insn, Hart h) {
        if (f3 >= 1 && f3 <= 3) throw h.fault(Trap.ILLEGAL, insn);
        return mulDivWord(f3, a, b);
    }

    /** The word forms for funct3 0 and 4..7 (the encodings that exist); shared with translated blocks. */
    static int mulDivWord(int f3, int a, int b) {
        return switch (f3) {
            case 0 -> a * b;
            case 4 -> b == 0 ? -1 : (a == Integer.MIN_VALUE && b == -1) ? a : a / b;
            case 5 -> b == 0 ? -1 : Integer.divideUnsigned(a, b);
            case 6 -> b == 0 ? a : (a == Integer.MIN_VALUE && b == -1) ? 0 : a % b;
            default -> b == 0 ? a : Integer.remainderUnsigned(a, b);
        };
    }
}
