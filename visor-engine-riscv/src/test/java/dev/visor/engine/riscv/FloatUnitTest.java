package dev.visor.engine.riscv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Edge cases of the F and D extensions, run through encoded instructions. */
class FloatUnitTest {
    static final int NV = 16, DZ = 8, OF = 4, UF = 2, NX = 1;
    static final int RNE = 0, RTZ = 1, RDN = 2, RUP = 3, RMM = 4, DYN = 7;

    // OP-FP funct7 values (single; double = +1)
    static final int FADD = 0x00, FSUB = 0x04, FMUL = 0x08, FDIV = 0x0c, FSQRT = 0x2c, FSGNJ = 0x10, FMINMAX = 0x14,
            FCVT_S_D = 0x20, FCVT_D_S = 0x21, FCMP = 0x50, FCVT_INT_F = 0x60, FCVT_F_INT = 0x68, FMV_X_CLASS = 0x70,
            FMV_F_X = 0x78;
    static final int FMADD = 0x43, FMSUB = 0x47, FNMSUB = 0x4b, FNMADD = 0x4f;

    static final long CNAN_D = 0x7ff8000000000000L;
    static final int CNAN_S = 0x7fc00000;
    static final long BOX = 0xFFFFFFFF00000000L;

    long[] x = new long[32];
    long[] f = new long[32];
    FpCsr csr = new FpCsr();

    static int rType(int funct7, int rs2, int rs1, int rm, int rd) {
        return (funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | 0x53;
    }

    static int r4Type(int opcode, int fmt, int rs3, int rs2, int rs1, int rm, int rd) {
        return (rs3 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | opcode;
    }

    static long d(double v) {
        return Double.doubleToRawLongBits(v);
    }

    static long s(float v) {
        return BOX | (Float.floatToRawIntBits(v) & 0xFFFFFFFFL);
    }

    static long sb(int bits) {
        return BOX | (bits & 0xFFFFFFFFL);
    }

    @BeforeEach
    void clear() {
        csr.fflags = 0;
        csr.frm = 0;
    }

    void run(int insn) {
        assertTrue(FloatUnit.execute(insn, x, f, csr), () -> "illegal: " + Integer.toHexString(insn));
    }

    /** Binary double op f3 = f1 op f2; returns raw bits; fflags reset before. */
    long dop(int funct7, int rm, long a, long b) {
        csr.fflags = 0;
        f[1] = a;
        f[2] = b;
        run(rType(funct7 | 1, 2, 1, rm, 3));
        return f[3];
    }

    long dop(int funct7, int rm, double a, double b) {
        return dop(funct7, rm, d(a), d(b));
    }

    /** Binary single op; returns raw unboxed bits and checks NaN-boxing of the result. */
    int sop(int funct7, int rm, long a, long b) {
        csr.fflags = 0;
        f[1] = a;
        f[2] = b;
        run(rType(funct7, 2, 1, rm, 3));
        assertEquals(BOX, f[3] & BOX, "result not NaN-boxed");
        return (int) f[3];
    }

    int sop(int funct7, int rm, float a, float b) {
        return sop(funct7, rm, s(a), s(b));
    }

    long dfma(int opcode, int rm, double a, double b, double c) {
        csr.fflags = 0;
        f[1] = d(a);
        f[2] = d(b);
        f[4] = d(c);
        run(r4Type(opcode, 1, 4, 2, 1, rm, 3));
        return f[3];
    }

    int sfma(int opcode, int rm, long a, long b, long c) {
        csr.fflags = 0;
        f[1] = a;
        f[2] = b;
        f[4] = c;
        run(r4Type(opcode, 0, 4, 2, 1, rm, 3));
        assertEquals(BOX, f[3] & BOX);
        return (int) f[3];
    }

    /** FCVT to integer from double (dbl) or single in f1; result in x5. */
    long cvtToInt(boolean dbl, int kind, int rm, long src) {
        csr.fflags = 0;
        f[1] = src;
        run(rType(FCVT_INT_F | (dbl ? 1 : 0), kind, 1, rm, 5));
        return x[5];
    }

    long cvtFromInt(boolean dbl, int kind, int rm, long v) {
        csr.fflags = 0;
        x[6] = v;
        run(rType(FCVT_F_INT | (dbl ? 1 : 0), kind, 6, rm, 3));
        return f[3];
    }

    void flags(int expected) {
        assertEquals(expected, csr.fflags, "fflags");
    }

    // ---------------------------------------------------------------------------------------- arithmetic

    @Test
    void divisionByZeroAndInvalid() {
        assertEquals(d(Double.POSITIVE_INFINITY), dop(FDIV, RNE, 1.0, 0.0));
        flags(DZ);
        assertEquals(d(Double.NEGATIVE_INFINITY), dop(FDIV, RNE, 1.0, -0.0));
        flags(DZ);
        assertEquals(CNAN_D, dop(FDIV, RNE, 0.0, 0.0));
        flags(NV);
        assertEquals(CNAN_D, dop(FDIV, RNE, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY));
        flags(NV);
        assertEquals(d(-0.0), dop(FDIV, RNE, 1.0, Double.NEGATIVE_INFINITY));
        flags(0);
        assertEquals(Float.floatToRawIntBits(Float.NEGATIVE_INFINITY), sop(FDIV, RNE, -1f, 0f));
        flags(DZ);
        assertEquals(CNAN_S, sop(FDIV, RNE, 0f, -0f));
        flags(NV);
        assertEquals(CNAN_S, sop(FDIV, RNE, Float.POSITIVE_INFINITY, Float.POSITIVE_INFINITY));
        flags(NV);
    }

    @Test
    void sqrt() {
        f[1] = d(-1.0);
        run(rType(FSQRT | 1, 0, 1, RNE, 3));
        assertEquals(CNAN_D, f[3]);
        flags(NV);
        csr.fflags = 0;
        f[1] = d(-0.0);
        run(rType(FSQRT | 1, 0, 1, RNE, 3));
        assertEquals(d(-0.0), f[3]);
        flags(0);
        f[1] = d(2.0);
        run(rType(FSQRT | 1, 0, 1, RUP, 3));
        assertEquals(d(Math.sqrt(2.0)), f[3]); // RNE sqrt(2) is above the true value
        flags(NX);
        csr.fflags = 0;
        f[1] = d(2.0);
        run(rType(FSQRT | 1, 0, 1, RDN, 3));
        assertEquals(d(Math.nextDown(Math.sqrt(2.0))), f[3]);
        flags(NX);
        csr.fflags = 0;
        f[1] = s(-1f);
        run(rType(FSQRT, 0, 1, RNE, 3));
        assertEquals(sb(CNAN_S), f[3]);
        flags(NV);
        csr.fflags = 0;
        f[1] = s(4f);
        run(rType(FSQRT, 0, 1, RNE, 3));
        assertEquals(s(2f), f[3]);
        flags(0);
        f[1] = d(Double.MIN_VALUE); // subnormal input: sqrt(2^-1074) = 2^-537 exactly
        run(rType(FSQRT | 1, 0, 1, RNE, 3));
        assertEquals(d(Math.scalb(1.0, -537)), f[3]);
        flags(0);
        f[1] = d(Double.POSITIVE_INFINITY);
        run(rType(FSQRT | 1, 0, 1, RNE, 3));
        assertEquals(d(Double.POSITIVE_INFINITY), f[3]);
        flags(0);
        f[1] = d(Double.NEGATIVE_INFINITY);
        run(rType(FSQRT | 1, 0, 1, RNE, 3));
        assertEquals(CNAN_D, f[3]);
        flags(NV);
    }

    @Test
    void infinityMinusInfinity() {
        assertEquals(CNAN_D, dop(FSUB, RNE, Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY));
        flags(NV);
        assertEquals(CNAN_D, dop(FADD, RNE, Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY));
        flags(NV);
        assertEquals(d(Double.POSITIVE_INFINITY), dop(FADD, RNE, Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY));
        flags(0);
        assertEquals(CNAN_S, sop(FSUB, RNE, Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY));
        flags(NV);
        assertEquals(CNAN_D, dop(FMUL, RNE, Double.POSITIVE_INFINITY, 0.0));
        flags(NV);
        assertEquals(CNAN_S, sop(FMUL, RNE, -0f, Float.NEGATIVE_INFINITY));
        flags(NV);
    }

    @Test
    void overflowDependsOnRoundingMode() {
        double max = Double.MAX_VALUE;
        assertEquals(d(Double.POSITIVE_INFINITY), dop(FMUL, RNE, max, 2.0));
        flags(OF | NX);
        assertEquals(d(max), dop(FMUL, RTZ, max, 2.0));
        flags(OF | NX);
        assertEquals(d(max), dop(FMUL, RDN, max, 2.0));
        flags(OF | NX);
        assertEquals(d(Double.POSITIVE_INFINITY), dop(FMUL, RUP, max, 2.0));
        flags(OF | NX);
        assertEquals(d(Double.POSITIVE_INFINITY), dop(FMUL, RMM, max, 2.0));
        flags(OF | NX);
        assertEquals(d(Double.NEGATIVE_INFINITY), dop(FMUL, RDN, -max, 2.0));
        flags(OF | NX);
        assertEquals(d(-max), dop(FMUL, RUP, -max, 2.0));
        flags(OF | NX);
        assertEquals(d(-max), dop(FADD, RTZ, -max, -max));
        flags(OF | NX);
        assertEquals(d(Double.NEGATIVE_INFINITY), dop(FADD, RNE, -max, -max));
        flags(OF | NX);
        // just above MAX but below the rounding boundary: no overflow in RNE/RTZ, overflow in RUP
        double tiny = Math.ulp(max) / 4;
        assertEquals(d(max), dop(FADD, RNE, max, tiny));
        flags(NX);
        assertEquals(d(max), dop(FADD, RTZ, max, tiny));
        flags(NX);
        assertEquals(d(Double.POSITIVE_INFINITY), dop(FADD, RUP, max, tiny));
        flags(OF | NX);
        // exactly at the midpoint between MAX and 2^1024: RNE overflows, RTZ does not
        assertEquals(d(Double.POSITIVE_INFINITY), dop(FADD, RNE, max, Math.ulp(max) / 2));
        flags(OF | NX);
        assertEquals(d(max), dop(FADD, RTZ, max, Math.ulp(max) / 2));
        flags(NX);

        float fmax = Float.MAX_VALUE;
        assertEquals(Float.floatToRawIntBits(Float.POSITIVE_INFINITY), sop(FMUL, RNE, fmax, 2f));
        flags(OF | NX);
        assertEquals(Float.floatToRawIntBits(fmax), sop(FMUL, RTZ, fmax, 2f));
        flags(OF | NX);
        assertEquals(Float.floatToRawIntBits(-fmax), sop(FADD, RUP, -fmax, -fmax));
        flags(OF | NX);
        assertEquals(Float.floatToRawIntBits(Float.NEGATIVE_INFINITY), sop(FADD, RDN, -fmax, -fmax));
        flags(OF | NX);
        assertEquals(Float.floatToRawIntBits(Float.POSITIVE_INFINITY), sop(FDIV, RNE, fmax, 0.5f));
        flags(OF | NX);
    }

    @Test
    void underflow() {
        double mn = Double.MIN_NORMAL;
        // exact subnormal result: tiny but exact -> no flags
        assertEquals(d(mn / 2), dop(FMUL, RNE, mn, 0.5));
        flags(0);
        // inexact subnormal result -> UF|NX
        double q = dop(FDIV, RNE, mn, 3.0) == 0 ? 0 : Double.longBitsToDouble(f[3]);
        assertEquals(mn / 3, q);
        flags(UF | NX);
        // half of the smallest subnormal: RNE ties to 0, RUP gives MIN_VALUE
        assertEquals(0L, dop(FMUL, RNE, Double.MIN_VALUE, 0.5));
        flags(UF | NX);
        assertEquals(d(Double.MIN_VALUE), dop(FMUL, RUP, Double.MIN_VALUE, 0.5));
        flags(UF | NX);
        assertEquals(d(-0.0), dop(FMUL, RUP, -Double.MIN_VALUE, 0.5));
        flags(UF | NX);
        assertEquals(d(-Double.MIN_VALUE), dop(FMUL, RMM, -Double.MIN_VALUE, 0.5));
        flags(UF | NX);
        // tininess after rounding: MIN_NORMAL*(1-2^-104) rounds to MIN_NORMAL even with unbounded exponent
        double below = Math.nextDown(mn); // largest subnormal
        assertEquals(d(mn), dop(FMUL, RNE, below, 1.0 + Math.ulp(1.0)));
        flags(NX);
        assertEquals(d(below), dop(FMUL, RTZ, below, 1.0 + Math.ulp(1.0)));
        flags(UF | NX);
        // MIN_NORMAL - 2^-1075 is representable with an unbounded exponent: tiny, rounds (tie, even) to MIN_NORMAL
        assertEquals(d(mn), dop(FMUL, RNE, mn, Math.nextDown(1.0)));
        flags(UF | NX);
        // single precision: subnormal result with UF|NX
        assertEquals(Float.floatToRawIntBits(Float.MIN_NORMAL / 3), sop(FDIV, RNE, Float.MIN_NORMAL, 3f));
        flags(UF | NX);
        assertEquals(Float.floatToRawIntBits(Float.MIN_NORMAL),
                sop(FMUL, RNE, Math.nextDown(Float.MIN_NORMAL), 1f + Math.ulp(1f)));
        flags(NX);
        assertEquals(Float.floatToRawIntBits(Math.nextDown(Float.MIN_NORMAL)),
                sop(FMUL, RDN, Math.nextDown(Float.MIN_NORMAL), 1f + Math.ulp(1f)));
        flags(UF | NX);
        assertEquals(Float.floatToRawIntBits(Float.MIN_VALUE), sop(FMUL, RUP, Float.MIN_VALUE, 0.25f));
        flags(UF | NX);
        // subnormal operands in exact arithmetic
        assertEquals(d(Double.MIN_VALUE * 3), dop(FADD, RNE, Double.MIN_VALUE, Double.MIN_VALUE * 2));
        flags(0);
        assertEquals(Float.floatToRawIntBits(Float.MIN_VALUE * 2), sop(FADD, RTZ, Float.MIN_VALUE, Float.MIN_VALUE));
        flags(0);
    }

    @Test
    void roundingModesOnOneThird() {
        long third = d(1.0 / 3.0); // 0x3fd5555555555555, below 1/3
        assertEquals(0x3fd5555555555555L, third);
        assertEquals(third, dop(FDIV, RNE, 1.0, 3.0));
        flags(NX);
        assertEquals(third, dop(FDIV, RTZ, 1.0, 3.0));
        assertEquals(third, dop(FDIV, RDN, 1.0, 3.0));
        assertEquals(third + 1, dop(FDIV, RUP, 1.0, 3.0));
        flags(NX);
        assertEquals(third, dop(FDIV, RMM, 1.0, 3.0));
        long mthird = third | Long.MIN_VALUE;
        assertEquals(mthird, dop(FDIV, RNE, -1.0, 3.0));
        assertEquals(mthird, dop(FDIV, RTZ, -1.0, 3.0));
        assertEquals(mthird + 1, dop(FDIV, RDN, -1.0, 3.0));
        assertEquals(mthird, dop(FDIV, RUP, 1.0, -3.0));
        assertEquals(mthird, dop(FDIV, RMM, 1.0, -3.0));
        flags(NX);
        // 2/3 has the same significand as 1/3: RNE rounds down
        assertEquals(0x3fe5555555555555L, dop(FDIV, RNE, 2.0, 3.0));
        assertEquals(0x3fe5555555555555L, dop(FDIV, RTZ, 2.0, 3.0));
        assertEquals(0x3fe5555555555555L, dop(FDIV, RDN, 2.0, 3.0));
        assertEquals(0x3fe5555555555556L, dop(FDIV, RUP, 2.0, 3.0));
        assertEquals(0xbfe5555555555555L, dop(FDIV, RTZ, -2.0, 3.0));
        assertEquals(0xbfe5555555555556L, dop(FDIV, RDN, -2.0, 3.0));
        // 0.1 / 3 etc. via mul: 0.1 * 3 = 0.30000000000000004 in RNE (rounded up)
        long p = d(0.1 * 3);
        assertEquals(p, dop(FMUL, RNE, 0.1, 3.0));
        assertEquals(p, dop(FMUL, RUP, 0.1, 3.0));
        assertEquals(p - 1, dop(FMUL, RDN, 0.1, 3.0));
        assertEquals(p - 1, dop(FMUL, RTZ, 0.1, 3.0));
        assertEquals((p - 1) | Long.MIN_VALUE, dop(FMUL, RUP, -0.1, 3.0));
        assertEquals(p | Long.MIN_VALUE, dop(FMUL, RDN, -0.1, 3.0));
        flags(NX);
        // single: 1/3 = 0x3eaaaaab (RNE rounds up)
        assertEquals(0x3eaaaaab, sop(FDIV, RNE, 1f, 3f));
        flags(NX);
        assertEquals(0x3eaaaaaa, sop(FDIV, RTZ, 1f, 3f));
        assertEquals(0x3eaaaaaa, sop(FDIV, RDN, 1f, 3f));
        assertEquals(0x3eaaaaab, sop(FDIV, RUP, 1f, 3f));
        assertEquals(0x3eaaaaab, sop(FDIV, RMM, 1f, 3f));
        assertEquals(0xbeaaaaaa, sop(FDIV, RTZ, -1f, 3f));
        assertEquals(0xbeaaaaab, sop(FDIV, RDN, -1f, 3f));
        assertEquals(0xbeaaaaaa, sop(FDIV, RUP, -1f, 3f));
        flags(NX);
    }

    @Test
    void dynamicRoundingModeAndTies() {
        csr.frm = RUP;
        assertEquals(d(1.0 / 3.0) + 1, dop(FDIV, DYN, 1.0, 3.0));
        csr.frm = RTZ;
        assertEquals(d(1.0 / 3.0), dop(FDIV, DYN, 1.0, 3.0));
        // 1 + 2^-53 is a tie: RNE -> 1 (even), RMM -> 1 + 2^-52
        double h = Math.ulp(1.0) / 2;
        assertEquals(d(1.0), dop(FADD, RNE, 1.0, h));
        flags(NX);
        assertEquals(d(1.0 + Math.ulp(1.0)), dop(FADD, RMM, 1.0, h));
        flags(NX);
        assertEquals(d(-1.0 - Math.ulp(1.0)), dop(FADD, RMM, -1.0, -h));
        // 1 + 3*2^-53 is a tie that RNE already rounds away
        double one1 = 1.0 + Math.ulp(1.0);
        assertEquals(d(one1 + Math.ulp(1.0)), dop(FADD, RNE, one1, h));
        assertEquals(d(one1 + Math.ulp(1.0)), dop(FADD, RMM, one1, h));
        // tie in multiplication: (1+2^-52)*(1+2^-1)... use 3*(1+2^-52)/... simple: (2^53+1) * 0.5^? via product
        double a = 1.0 + Math.ulp(1.0); // 1 + 2^-52
        double b = 1.5;                 // product 1.5 + 1.5*2^-52 = 1.5 + 2^-52 + 2^-53: a tie
        assertEquals(d(1.5 + 2 * Math.ulp(1.0)), dop(FMUL, RNE, a, b)); // 1.5+2^-52+2^-53 -> even neighbour
        assertEquals(d(1.5 + 2 * Math.ulp(1.0)), dop(FMUL, RMM, a, b));
        assertEquals(d(1.5 + Math.ulp(1.0)), dop(FMUL, RTZ, a, b));
        // single tie: 1 + 2^-24
        assertEquals(Float.floatToRawIntBits(1f), sop(FADD, RNE, 1f, 0x1p-24f));
        assertEquals(Float.floatToRawIntBits(1f + 0x1p-23f), sop(FADD, RMM, 1f, 0x1p-24f));
        assertEquals(Float.floatToRawIntBits(-1f - 0x1p-23f), sop(FSUB, RMM, -1f, 0x1p-24f));
        // zero results: x - x is +0 except in RDN
        assertEquals(0L, dop(FSUB, RNE, 1.5, 1.5));
        flags(0);
        assertEquals(d(-0.0), dop(FSUB, RDN, 1.5, 1.5));
        assertEquals(d(-0.0), dop(FADD, RDN, 0.0, -0.0));
        assertEquals(0L, dop(FADD, RDN, 0.0, 0.0));
        assertEquals(d(-0.0), dop(FADD, RNE, -0.0, -0.0));
        assertEquals(0L, dop(FADD, RNE, 0.0, -0.0));
        assertEquals(0x80000000, sop(FSUB, RDN, 2f, 2f));
        assertEquals(0, sop(FSUB, RUP, 2f, 2f));
    }

    @Test
    void illegalRoundingModeChangesNothing() {
        for (int rm : new int[] {5, 6}) {
            f[1] = d(1.0);
            f[2] = d(3.0);
            f[3] = 1234;
            csr.fflags = 0;
            assertFalse(FloatUnit.execute(rType(FDIV | 1, 2, 1, rm, 3), x, f, csr));
            assertEquals(1234, f[3]);
            assertEquals(0, csr.fflags);
            assertFalse(FloatUnit.execute(r4Type(FMADD, 0, 4, 2, 1, rm, 3), x, f, csr));
            assertEquals(1234, f[3]);
        }
        for (int frm : new int[] {5, 6, 7}) {
            csr.frm = frm;
            long[] fBefore = f.clone();
            long[] xBefore = x.clone();
            assertFalse(FloatUnit.execute(rType(FDIV | 1, 2, 1, DYN, 3), x, f, csr));
            assertFalse(FloatUnit.execute(rType(FCVT_INT_F | 1, 0, 1, DYN, 5), x, f, csr));
            assertFalse(FloatUnit.execute(rType(FCVT_F_INT, 0, 6, DYN, 3), x, f, csr));
            assertFalse(FloatUnit.execute(r4Type(FNMADD, 1, 4, 2, 1, DYN, 3), x, f, csr));
            assertArrayEquals(fBefore, f);
            assertArrayEquals(xBefore, x);
            assertEquals(0, csr.fflags);
            // instructions without a rounding mode are unaffected by an invalid frm
            f[1] = d(-2.0);
            f[2] = d(3.0);
            run(rType(FSGNJ | 1, 2, 1, 0, 3));
            assertEquals(d(2.0), f[3]);
        }
        csr.frm = 0;
        // unknown encodings
        assertFalse(FloatUnit.execute(rType(0x7f, 0, 1, 0, 3), x, f, csr));
        assertFalse(FloatUnit.execute(rType(FSGNJ, 2, 1, 3, 3), x, f, csr));
        assertFalse(FloatUnit.execute(rType(FMINMAX | 1, 2, 1, 2, 3), x, f, csr));
        assertFalse(FloatUnit.execute(rType(FCMP, 2, 1, 3, 3), x, f, csr));
        assertFalse(FloatUnit.execute(rType(FSQRT | 1, 1, 1, 0, 3), x, f, csr));
        assertFalse(FloatUnit.execute(rType(FCVT_S_D, 0, 1, 0, 3), x, f, csr));
        assertFalse(FloatUnit.execute(rType(FCVT_D_S, 1, 1, 0, 3), x, f, csr));
        assertFalse(FloatUnit.execute(rType(FCVT_INT_F, 4, 1, 0, 3), x, f, csr));
        assertFalse(FloatUnit.execute(rType(FMV_X_CLASS, 0, 1, 2, 3), x, f, csr));
        assertFalse(FloatUnit.execute(rType(FMV_F_X, 0, 1, 1, 3), x, f, csr));
        assertFalse(FloatUnit.execute(rType(FADD | 2, 2, 1, 0, 3), x, f, csr)); // half precision
        assertFalse(FloatUnit.execute(r4Type(FMADD, 2, 4, 2, 1, 0, 3), x, f, csr));
        assertFalse(FloatUnit.execute(r4Type(FMADD, 3, 4, 2, 1, 0, 3), x, f, csr));
        assertEquals(0, csr.fflags);
    }

    // --------------------------------------------------------------------------------------- conversions

    @Test
    void convertDoubleToWord() {
        assertEquals(Integer.MAX_VALUE, cvtToInt(true, 0, RNE, d(2147483648.0)));
        flags(NV);
        assertEquals(Integer.MAX_VALUE, cvtToInt(true, 0, RNE, d(2147483647.0)));
        flags(0);
        assertEquals(Integer.MIN_VALUE, cvtToInt(true, 0, RNE, d(-2147483649.0)));
        flags(NV);
        assertEquals(Integer.MIN_VALUE, cvtToInt(true, 0, RTZ, d(-2147483648.9)));
        flags(NX);
        assertEquals(Integer.MIN_VALUE, cvtToInt(true, 0, RDN, d(-2147483648.5)));
        flags(NV);
        assertEquals(Integer.MAX_VALUE, cvtToInt(true, 0, RNE, CNAN_D));
        flags(NV);
        assertEquals(Integer.MAX_VALUE, cvtToInt(true, 0, RNE, 0xfff0000000000001L)); // negative sNaN
        flags(NV);
        assertEquals(Integer.MAX_VALUE, cvtToInt(true, 0, RNE, d(Double.POSITIVE_INFINITY)));
        flags(NV);
        assertEquals(Integer.MIN_VALUE, cvtToInt(true, 0, RNE, d(Double.NEGATIVE_INFINITY)));
        flags(NV);
        int[] rms = {RNE, RMM, RDN, RUP, RTZ};
        long[] pos = {2, 3, 2, 3, 2};
        long[] neg = {-2, -3, -3, -2, -2};
        for (int i = 0; i < rms.length; i++) {
            assertEquals(pos[i], cvtToInt(true, 0, rms[i], d(2.5)), "2.5 rm=" + rms[i]);
            flags(NX);
            assertEquals(neg[i], cvtToInt(true, 0, rms[i], d(-2.5)), "-2.5 rm=" + rms[i]);
            flags(NX);
            assertEquals(pos[i], cvtToInt(false, 0, rms[i], s(2.5f)), "2.5f rm=" + rms[i]);
            assertEquals(pos[i], cvtToInt(true, 2, rms[i], d(2.5)), "l 2.5 rm=" + rms[i]);
        }
        assertEquals(4, cvtToInt(true, 0, RNE, d(3.5)));
        assertEquals(-7, cvtToInt(true, 0, RNE, d(-7.0)));
        flags(0);
    }

    @Test
    void convertToUnsignedAndLong() {
        assertEquals(0, cvtToInt(true, 1, RNE, d(-1.0)));
        flags(NV);
        assertEquals(0, cvtToInt(true, 1, RTZ, d(-0.5)));
        flags(NX);
        assertEquals(0, cvtToInt(true, 1, RNE, d(-0.5)));
        flags(NX);
        assertEquals(0, cvtToInt(true, 1, RDN, d(-0.5)));
        flags(NV);
        assertEquals(0, cvtToInt(true, 1, RNE, d(-0.0)));
        flags(0);
        // WU results are sign-extended from 32 bits
        assertEquals(-1L, cvtToInt(true, 1, RNE, d(4294967295.0)));
        flags(0);
        assertEquals(0xffffffff80000000L, cvtToInt(true, 1, RNE, d(2147483648.0)));
        assertEquals(-1L, cvtToInt(true, 1, RNE, d(4294967296.0)));
        flags(NV);
        assertEquals(-1L, cvtToInt(true, 1, RNE, CNAN_D));
        flags(NV);
        // L / LU
        assertEquals(Long.MAX_VALUE, cvtToInt(true, 2, RNE, d(9223372036854775808.0)));
        flags(NV);
        assertEquals(Long.MIN_VALUE, cvtToInt(true, 2, RNE, d(-9223372036854775808.0)));
        flags(0);
        assertEquals(Long.MAX_VALUE, cvtToInt(true, 2, RNE, CNAN_D));
        flags(NV);
        assertEquals(Long.MIN_VALUE, cvtToInt(false, 2, RNE, s(Float.NEGATIVE_INFINITY)));
        flags(NV);
        assertEquals(0x8000000000000000L, cvtToInt(true, 3, RNE, d(9223372036854775808.0)));
        flags(0);
        assertEquals(0xfffffffffffff800L, cvtToInt(true, 3, RNE, d(Math.nextDown(18446744073709551616.0))));
        flags(0);
        assertEquals(-1L, cvtToInt(true, 3, RNE, d(18446744073709551616.0)));
        flags(NV);
        assertEquals(0, cvtToInt(true, 3, RNE, d(-3.0)));
        flags(NV);
        assertEquals(-1L, cvtToInt(false, 3, RNE, sb(0x7fa00000))); // sNaN
        flags(NV);
        // unboxed single reads as canonical NaN
        assertEquals(Integer.MAX_VALUE, cvtToInt(false, 0, RNE, 0x3f800000L));
        flags(NV);
        // x0 is never written
        f[1] = d(5.0);
        run(rType(FCVT_INT_F | 1, 0, 1, RNE, 0));
        assertEquals(0, x[0]);
    }

    @Test
    void convertFromInteger() {
        assertEquals(d(-1.0), cvtFromInt(true, 0, RNE, 0xffffffffL)); // W: low 32 bits, signed
        flags(0);
        assertEquals(d(4294967295.0), cvtFromInt(true, 1, RNE, -1L)); // WU
        assertEquals(d(-9.223372036854775808E18), cvtFromInt(true, 2, RNE, Long.MIN_VALUE));
        flags(0);
        assertEquals(d(18446744073709551616.0), cvtFromInt(true, 3, RNE, -1L));
        flags(NX);
        assertEquals(d(Math.nextDown(18446744073709551616.0)), cvtFromInt(true, 3, RTZ, -1L));
        flags(NX);
        long big = (1L << 53) + 1;
        assertEquals(d(9007199254740992.0), cvtFromInt(true, 2, RNE, big));
        flags(NX);
        assertEquals(d(9007199254740994.0), cvtFromInt(true, 2, RUP, big));
        assertEquals(d(9007199254740994.0), cvtFromInt(true, 2, RMM, big));
        assertEquals(d(-9007199254740994.0), cvtFromInt(true, 2, RDN, -big));
        assertEquals(d(-9007199254740992.0), cvtFromInt(true, 2, RTZ, -big));
        assertEquals(0L, cvtFromInt(true, 2, RDN, 0));
        assertEquals(s(16777216f), cvtFromInt(false, 0, RNE, 16777217));
        flags(NX);
        assertEquals(s(16777218f), cvtFromInt(false, 0, RUP, 16777217));
        assertEquals(s(-2147483648f), cvtFromInt(false, 0, RNE, 0x80000000L));
        flags(0);
        assertEquals(s(4294967296f), cvtFromInt(false, 1, RNE, 0xffffffffL));
        flags(NX);
        assertEquals(s(Math.nextDown(4294967296f)), cvtFromInt(false, 1, RTZ, 0xffffffffL));
        assertEquals(s(Math.nextDown(18446744073709551616f)), cvtFromInt(false, 3, RDN, -1L));
        assertEquals(s(0f), cvtFromInt(false, 3, RDN, 0));
        flags(0);
    }

    @Test
    void convertBetweenFormats() {
        f[1] = d(1.0 / 3.0);
        run(rType(FCVT_S_D, 1, 1, RNE, 3));
        assertEquals(s(1f / 3f), f[3]);
        flags(NX);
        csr.fflags = 0;
        run(rType(FCVT_S_D, 1, 1, RTZ, 3));
        assertEquals(sb(0x3eaaaaaa), f[3]);
        f[1] = d(1e300);
        csr.fflags = 0;
        run(rType(FCVT_S_D, 1, 1, RNE, 3));
        assertEquals(s(Float.POSITIVE_INFINITY), f[3]);
        flags(OF | NX);
        csr.fflags = 0;
        run(rType(FCVT_S_D, 1, 1, RTZ, 3));
        assertEquals(s(Float.MAX_VALUE), f[3]);
        flags(OF | NX);
        f[1] = d(1e-50);
        csr.fflags = 0;
        run(rType(FCVT_S_D, 1, 1, RNE, 3));
        assertEquals(s(0f), f[3]);
        flags(UF | NX);
        csr.fflags = 0;
        run(rType(FCVT_S_D, 1, 1, RUP, 3));
        assertEquals(s(Float.MIN_VALUE), f[3]);
        flags(UF | NX);
        f[1] = d(Double.MIN_VALUE); // double subnormal -> single
        csr.fflags = 0;
        run(rType(FCVT_S_D, 1, 1, RDN, 3));
        assertEquals(s(0f), f[3]);
        flags(UF | NX);
        f[1] = 0x7ff0000000000001L; // sNaN
        csr.fflags = 0;
        run(rType(FCVT_S_D, 1, 1, RNE, 3));
        assertEquals(sb(CNAN_S), f[3]);
        flags(NV);
        f[1] = d(Double.NEGATIVE_INFINITY);
        csr.fflags = 0;
        run(rType(FCVT_S_D, 1, 1, RNE, 3));
        assertEquals(s(Float.NEGATIVE_INFINITY), f[3]);
        flags(0);
        // D.S: exact; NaN canonical; unboxed input -> canonical NaN without NV
        f[1] = s(Float.MIN_VALUE);
        run(rType(FCVT_D_S, 0, 1, RNE, 3));
        assertEquals(d(Float.MIN_VALUE), f[3]);
        flags(0);
        f[1] = sb(0xff800001); // sNaN
        run(rType(FCVT_D_S, 0, 1, RNE, 3));
        assertEquals(CNAN_D, f[3]);
        flags(NV);
        csr.fflags = 0;
        f[1] = 0x123456789L;
        run(rType(FCVT_D_S, 0, 1, RNE, 3));
        assertEquals(CNAN_D, f[3]);
        flags(0);
    }

    // ----------------------------------------------------------------------------------- non-arithmetic

    @Test
    void minMax() {
        long qnan = CNAN_D, snan = 0x7ff0000000000001L;
        assertEquals(d(1.0), dop(FMINMAX, 0, qnan, d(1.0)));
        flags(0);
        assertEquals(d(1.0), dop(FMINMAX, 1, d(1.0), qnan));
        flags(0);
        assertEquals(d(1.0), dop(FMINMAX, 0, snan, d(1.0)));
        flags(NV);
        assertEquals(CNAN_D, dop(FMINMAX, 1, qnan, 0x7ff8000000000123L));
        flags(0);
        assertEquals(CNAN_D, dop(FMINMAX, 1, snan, qnan));
        flags(NV);
        assertEquals(d(-0.0), dop(FMINMAX, 0, d(0.0), d(-0.0)));
        assertEquals(d(-0.0), dop(FMINMAX, 0, d(-0.0), d(0.0)));
        assertEquals(d(0.0), dop(FMINMAX, 1, d(-0.0), d(0.0)));
        assertEquals(d(0.0), dop(FMINMAX, 1, d(0.0), d(-0.0)));
        assertEquals(d(-3.0), dop(FMINMAX, 0, d(2.0), d(-3.0)));
        assertEquals(d(2.0), dop(FMINMAX, 1, d(2.0), d(-3.0)));
        assertEquals(d(Double.NEGATIVE_INFINITY), dop(FMINMAX, 0, d(Double.NEGATIVE_INFINITY), d(-3.0)));
        flags(0);
        assertEquals(Float.floatToRawIntBits(-0f), sop(FMINMAX, 0, 0f, -0f));
        assertEquals(Float.floatToRawIntBits(0f), sop(FMINMAX, 1, -0f, 0f));
        assertEquals(Float.floatToRawIntBits(5f), sop(FMINMAX, 1, sb(0x7f800001), s(5f)));
        flags(NV);
        assertEquals(CNAN_S, sop(FMINMAX, 0, sb(0x7fc00001), sb(0xffc00000)));
        flags(0);
        // an unboxed operand is a (quiet) canonical NaN: the other operand wins, no NV
        assertEquals(Float.floatToRawIntBits(7f), sop(FMINMAX, 0, 0x40e00000L, s(7f)));
        flags(0);
    }

    @Test
    void compare() {
        f[1] = d(1.0);
        f[2] = d(2.0);
        for (int op = 0; op < 3; op++) {
            run(rType(FCMP | 1, 2, 1, op, 5));
            assertEquals(op == 2 ? 0 : 1, x[5]);
        }
        f[2] = CNAN_D;
        for (int op = 0; op < 3; op++) {
            csr.fflags = 0;
            x[5] = 9;
            run(rType(FCMP | 1, 2, 1, op, 5));
            assertEquals(0, x[5]);
            flags(op == 2 ? 0 : NV); // FEQ is quiet, FLT/FLE signal on any NaN
        }
        f[2] = 0x7ff4000000000000L; // sNaN
        csr.fflags = 0;
        run(rType(FCMP | 1, 2, 1, 2, 5));
        flags(NV);
        f[1] = d(0.0);
        f[2] = d(-0.0);
        csr.fflags = 0;
        run(rType(FCMP | 1, 2, 1, 2, 5));
        assertEquals(1, x[5]);
        run(rType(FCMP | 1, 2, 1, 1, 5));
        assertEquals(0, x[5]);
        run(rType(FCMP | 1, 2, 1, 0, 5));
        assertEquals(1, x[5]);
        flags(0);
        f[1] = s(-1f);
        f[2] = s(1f);
        run(rType(FCMP, 2, 1, 1, 5));
        assertEquals(1, x[5]);
        f[2] = 0x3f800000L; // unboxed -> canonical NaN
        run(rType(FCMP, 2, 1, 2, 5));
        assertEquals(0, x[5]);
        flags(0);
        run(rType(FCMP, 2, 1, 0, 0)); // rd = x0: flags still raised, x0 untouched
        flags(NV);
        assertEquals(0, x[0]);
    }

    @Test
    void signInjection() {
        f[1] = d(3.0);
        f[2] = d(-1.0);
        run(rType(FSGNJ | 1, 2, 1, 0, 3));
        assertEquals(d(-3.0), f[3]);
        run(rType(FSGNJ | 1, 2, 1, 1, 3));
        assertEquals(d(3.0), f[3]);
        f[1] = d(-3.0);
        run(rType(FSGNJ | 1, 2, 1, 2, 3));
        assertEquals(d(3.0), f[3]);
        f[1] = 0x7ff0000000000001L; // NaN payloads are preserved, no flags
        run(rType(FSGNJ | 1, 2, 1, 1, 3));
        assertEquals(0x7ff0000000000001L, f[3]);
        flags(0);
        f[1] = s(3f);
        f[2] = s(-1f);
        run(rType(FSGNJ, 2, 1, 0, 3));
        assertEquals(s(-3f), f[3]);
        run(rType(FSGNJ, 1, 1, 1, 3)); // fneg.s
        assertEquals(s(-3f), f[3]);
        run(rType(FSGNJ, 1, 1, 2, 3)); // fabs.s
        assertEquals(s(3f), f[3]);
        f[1] = 0x3f800000L; // unboxed -> canonical NaN, with the sign injected
        run(rType(FSGNJ, 2, 1, 0, 3));
        assertEquals(sb(0xffc00000), f[3]);
        flags(0);
    }

    @Test
    void moves() {
        f[1] = sb(0xbf800000);
        run(rType(FMV_X_CLASS, 0, 1, 0, 5));
        assertEquals(0xffffffffbf800000L, x[5]);
        f[1] = 0x1234567887654321L; // raw low bits, regardless of boxing
        run(rType(FMV_X_CLASS, 0, 1, 0, 5));
        assertEquals(0xffffffff87654321L, x[5]);
        f[1] = 0x0000000012345678L;
        run(rType(FMV_X_CLASS, 0, 1, 0, 5));
        assertEquals(0x12345678L, x[5]);
        x[6] = 0x123456789abcdef0L;
        run(rType(FMV_F_X, 0, 6, 0, 3));
        assertEquals(0xffffffff9abcdef0L, f[3]);
        run(rType(FMV_F_X | 1, 0, 6, 0, 3));
        assertEquals(0x123456789abcdef0L, f[3]);
        f[1] = 0x7ff0000000000001L;
        run(rType(FMV_X_CLASS | 1, 0, 1, 0, 5));
        assertEquals(0x7ff0000000000001L, x[5]);
        flags(0);
    }

    @Test
    void classify() {
        long[] dv = {d(Double.NEGATIVE_INFINITY), d(-1.0), d(-Double.MIN_VALUE), d(-0.0), d(0.0),
            d(Double.MIN_VALUE), d(1.0), d(Double.POSITIVE_INFINITY), 0x7ff0000000000001L, CNAN_D};
        long[] sv = {s(Float.NEGATIVE_INFINITY), s(-1f), s(-Float.MIN_VALUE), s(-0f), s(0f), s(Float.MIN_VALUE),
            s(1f), s(Float.POSITIVE_INFINITY), sb(0x7f800001), sb(CNAN_S)};
        for (int i = 0; i < 10; i++) {
            f[1] = dv[i];
            run(rType(FMV_X_CLASS | 1, 0, 1, 1, 5));
            assertEquals(1L << i, x[5], "double class " + i);
            f[1] = sv[i];
            run(rType(FMV_X_CLASS, 0, 1, 1, 5));
            assertEquals(1L << i, x[5], "single class " + i);
        }
        f[1] = d(-Double.MIN_NORMAL);
        run(rType(FMV_X_CLASS | 1, 0, 1, 1, 5));
        assertEquals(1 << 1, x[5]);
        f[1] = 0xfff8000000000000L;
        run(rType(FMV_X_CLASS | 1, 0, 1, 1, 5));
        assertEquals(1 << 9, x[5]);
        f[1] = 0x3f800000L; // unboxed single: canonical quiet NaN
        run(rType(FMV_X_CLASS, 0, 1, 1, 5));
        assertEquals(1 << 9, x[5]);
        flags(0);
    }

    @Test
    void nanBoxing() {
        f[1] = 0x000000003f800000L; // 1.0f, but not boxed
        f[2] = s(1f);
        run(rType(FADD, 2, 1, RNE, 3));
        assertEquals(sb(CNAN_S), f[3]);
        flags(0); // canonical NaN is quiet
        f[1] = 0xFFFFFFFE3f800000L;
        run(rType(FMUL, 2, 1, RNE, 3));
        assertEquals(sb(CNAN_S), f[3]);
        // NaN results are canonical, whatever the input payload
        assertEquals(CNAN_S, sop(FADD, RNE, sb(0xffc12345), s(1f)));
        flags(0);
        assertEquals(CNAN_S, sop(FADD, RNE, sb(0x7f812345), s(1f)));
        flags(NV);
        assertEquals(CNAN_D, dop(FMUL, RNE, 0xfff8000000012345L, d(2.0)));
        flags(0);
        assertEquals(CNAN_D, dop(FDIV, RNE, d(2.0), 0x7ff0000000000002L));
        flags(NV);
    }

    // ------------------------------------------------------------------------------------------------ fma

    @Test
    void fusedMultiplyAddRoundsOnce() {
        double a = 1.0 + 0x1p-30;
        // a*a = 1 + 2^-29 + 2^-60: separate mul/add loses the 2^-60 term
        assertEquals(d(0x1p-29 + 0x1p-60), dfma(FMADD, RNE, a, a, -1.0));
        flags(0);
        assertEquals(d(0x1p-29), dop(FSUB, RNE, dop(FMUL, RNE, a, a), d(1.0)));
        // FMSUB / FNMSUB / FNMADD signs
        assertEquals(d(0x1p-29 + 0x1p-60), dfma(FMSUB, RNE, a, a, 1.0));
        assertEquals(d(-(0x1p-29 + 0x1p-60)), dfma(FNMSUB, RNE, a, a, 1.0));
        assertEquals(d(-(0x1p-29 + 0x1p-60)), dfma(FNMADD, RNE, a, a, -1.0));
        assertEquals(d(7.0), dfma(FMADD, RNE, 2.0, 3.0, 1.0));
        assertEquals(d(5.0), dfma(FMSUB, RNE, 2.0, 3.0, 1.0));
        assertEquals(d(-5.0), dfma(FNMSUB, RNE, 2.0, 3.0, 1.0));
        assertEquals(d(-7.0), dfma(FNMADD, RNE, 2.0, 3.0, 1.0));
        flags(0);
        // inexact with directed rounding: 1/3-ish * 3 - 1
        double t = 1.0 / 3.0;
        assertEquals(d(Math.fma(t, 3.0, 1.0)), dfma(FMADD, RNE, t, 3.0, 1.0));
        // zero-sign rules: exact zero result is -0 only in RDN
        assertEquals(0L, dfma(FMADD, RNE, 2.0, 3.0, -6.0));
        assertEquals(d(-0.0), dfma(FMADD, RDN, 2.0, 3.0, -6.0));
        assertEquals(d(-0.0), dfma(FNMADD, RNE, 0.0, 3.0, 0.0));
        assertEquals(d(-0.0), dfma(FMADD, RDN, -0.0, 3.0, 0.0));
        assertEquals(0L, dfma(FMADD, RNE, -0.0, 3.0, 0.0));
        flags(0);
        // inf*0 is invalid even if the addend is a quiet NaN
        assertEquals(CNAN_D, dfma(FMADD, RNE, Double.POSITIVE_INFINITY, 0.0, Double.NaN));
        flags(NV);
        assertEquals(CNAN_D, dfma(FMADD, RNE, 1.0, 2.0, Double.NaN));
        flags(0);
        assertEquals(CNAN_D, dfma(FMADD, RNE, Double.POSITIVE_INFINITY, 1.0, Double.NEGATIVE_INFINITY));
        flags(NV);
        assertEquals(d(Double.NEGATIVE_INFINITY), dfma(FMADD, RNE, Double.NEGATIVE_INFINITY, 1.0, 5.0));
        flags(0);
        // overflow of the product cancelled by the addend: 2^1023 * 2 - MAX = 2^971 exactly
        assertEquals(d(0x1p971), dfma(FMADD, RNE, 0x1p1023, 2.0, -Double.MAX_VALUE));
        flags(0);
        // single: an fma that double rounding would get wrong
        int r = sfma(FMADD, RNE, sb(0x3f800001), sb(0x337ffffe), sb(0x3f800001));
        assertEquals(0x3f800001, r);
        flags(NX);
        assertEquals(Float.floatToRawIntBits(Math.fma(1.5f, 2f, -0.25f)), sfma(FMADD, RNE, s(1.5f), s(2f), s(-0.25f)));
        assertEquals(Float.floatToRawIntBits(-3.25f), sfma(FNMADD, RNE, s(1.5f), s(2f), s(0.25f)));
        assertEquals(Float.floatToRawIntBits(-2.75f), sfma(FNMSUB, RNE, s(1.5f), s(2f), s(0.25f)));
        assertEquals(Float.floatToRawIntBits(2.75f), sfma(FMSUB, RNE, s(1.5f), s(2f), s(0.25f)));
        flags(0);
        assertEquals(CNAN_S, sfma(FMADD, RNE, s(0f), s(Float.NEGATIVE_INFINITY), sb(CNAN_S)));
        flags(NV);
        assertEquals(0x80000000, sfma(FMADD, RDN, s(2f), s(3f), s(-6f)));
        assertEquals(0, sfma(FMADD, RTZ, s(2f), s(3f), s(-6f)));
        // unboxed addend
        assertEquals(CNAN_S, sfma(FMADD, RNE, s(2f), s(3f), 0x40000000L));
        flags(0);
    }

    @Test
    void registerAliasing() {
        f[1] = d(3.0);
        run(rType(FMUL | 1, 1, 1, RNE, 1));
        assertEquals(d(9.0), f[1]);
        f[1] = d(2.0);
        run(r4Type(FMADD, 1, 1, 1, 1, RNE, 1));
        assertEquals(d(6.0), f[1]);
    }
}
