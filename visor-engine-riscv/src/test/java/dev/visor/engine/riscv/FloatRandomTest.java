package dev.visor.engine.riscv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Randomised checks of {@link FloatUnit} against an independent reference: the exact result is known as a
 * BigDecimal (or through exact comparisons for division and square root), and rounding, overflow and tininess (after
 * rounding, unbounded exponent) are decided with BigDecimal arithmetic only. Also checks the fast paths against the
 * exact {@link SoftFloat} slow path.
 */
class FloatRandomTest {
    static final int NV = 16, DZ = 8, OF = 4, UF = 2, NX = 1;
    static final int RNE = 0, RTZ = 1, RDN = 2, RUP = 3, RMM = 4;
    static final String[] RM_NAMES = {"RNE", "RTZ", "RDN", "RUP", "RMM"};

    /** Sign of (v - exact) for a candidate v. */
    interface Cmp {
        int cmp(BigDecimal v);
    }

    /** Binary format description for the reference. */
    record Fmt(boolean dbl, int p, int emin, int emax) {
        static final Fmt D = new Fmt(true, 53, -1022, 1023);
        static final Fmt S = new Fmt(false, 24, -126, 127);

        long inf() {
            return dbl ? 0x7ff0000000000000L : 0x7f800000L;
        }

        long max() {
            return inf() - 1;
        }

        long sign() {
            return dbl ? Long.MIN_VALUE : 0x80000000L;
        }

        /** Value of a non-negative magnitude bit pattern (the infinity pattern stands for 2^(emax+1)). */
        BigDecimal val(long mag) {
            if (mag == inf()) return pow2(emax + 1);
            return dbl ? new BigDecimal(Double.longBitsToDouble(mag))
                    : new BigDecimal((double) Float.intBitsToFloat((int) mag));
        }
    }

    static BigDecimal pow2(int e) {
        return e >= 0 ? new BigDecimal(BigInteger.ONE.shiftLeft(e)) : BigDecimal.ONE.divide(new BigDecimal(BigInteger.ONE.shiftLeft(-e)));
    }

    static final BigDecimal TWO = BigDecimal.valueOf(2);

    /**
     * Chooses between lo and hi (|lo| <= |exact| <= |hi|, magnitudes) in mode rm: returns true for hi.
     * loEven tells whether lo has an even significand.
     */
    static boolean pickHi(Cmp mag, BigDecimal lo, BigDecimal hi, boolean loEven, boolean neg, int rm) {
        switch (rm) {
            case RTZ: return false;
            case RDN: return neg;
            case RUP: return !neg;
            default: {
                int c = mag.cmp(lo.add(hi).divide(TWO)); // sign(mid - |exact|)
                if (c != 0) return c < 0;
                return rm == RMM || !loEven; // tie: away from zero, or to the even neighbour
            }
        }
    }

    /** Reference rounding of a nonzero exact value; returns bits and stores flags in out[0]. */
    static long refRound(Cmp cmp, Fmt fmt, int rm, long guessMag, int[] out) {
        int sgn = -cmp.cmp(BigDecimal.ZERO);
        if (sgn == 0) throw new IllegalArgumentException("exact zero");
        boolean neg = sgn < 0;
        Cmp mag = neg ? v -> -cmp.cmp(v.negate()) : cmp; // sign(v - |exact|)
        int flags = 0;
        long lo;
        if (mag.cmp(fmt.val(fmt.inf())) <= 0) {
            // |exact| >= 2^(emax+1): overflow whatever the mode
            boolean toInf = rm == RNE || rm == RMM || (rm == RDN && neg) || (rm == RUP && !neg);
            out[0] = OF | NX;
            return (toInf ? fmt.inf() : fmt.max()) | (neg ? fmt.sign() : 0);
        }
        lo = Math.min(guessMag, fmt.max());
        while (lo > 0 && mag.cmp(fmt.val(lo)) > 0) lo--;
        while (mag.cmp(fmt.val(lo + 1)) <= 0) lo++;
        long res;
        if (mag.cmp(fmt.val(lo)) == 0) {
            res = lo;
        } else {
            flags |= NX;
            res = pickHi(mag, fmt.val(lo), fmt.val(lo + 1), (lo & 1) == 0, neg, rm) ? lo + 1 : lo;
            if (res == fmt.inf()) flags |= OF;
            // tininess after rounding with unbounded exponent
            BigDecimal minNormal = pow2(fmt.emin);
            if (mag.cmp(minNormal) > 0) {
                if (mag.cmp(pow2(fmt.emin - 1)) > 0) {
                    flags |= UF;
                } else {
                    BigDecimal l = minNormal.subtract(pow2(fmt.emin - fmt.p));
                    if (mag.cmp(l) >= 0 || !pickHi(mag, l, minNormal, false, neg, rm)) flags |= UF;
                }
            }
        }
        out[0] = flags;
        return res | (neg ? fmt.sign() : 0);
    }

    static BigDecimal bd(double v) {
        return new BigDecimal(v);
    }

    // ------------------------------------------------------------------------------------------ generators

    final Random rnd = new Random(0x5eed_f10a7L);

    /** Random double with exponent in [lo, hi] (unbiased), random or sparse significand, random sign. */
    double rdouble(int lo, int hi) {
        int e = lo + rnd.nextInt(hi - lo + 1);
        long m;
        switch (rnd.nextInt(4)) {
            case 0: m = rnd.nextLong() & 0xfffffffffffffL; break;
            case 1: m = (rnd.nextLong() & 0xfffffffffffffL) & (-1L << (52 - rnd.nextInt(8))); break; // few bits
            case 2: m = 0xfffffffffffffL ^ (1L << rnd.nextInt(52)); break;
            default: m = rnd.nextLong() & 0xfffffffffffffL | 1; break;
        }
        double v = Math.scalb(1.0 + m * 0x1p-52, e); // may become subnormal (rounded) or infinite
        if (Double.isInfinite(v)) v = Double.MAX_VALUE;
        if (v == 0) v = Double.MIN_VALUE;
        return rnd.nextBoolean() ? -v : v;
    }

    float rfloat(int lo, int hi) {
        int e = lo + rnd.nextInt(hi - lo + 1);
        int m;
        switch (rnd.nextInt(4)) {
            case 0: m = rnd.nextInt(1 << 23); break;
            case 1: m = rnd.nextInt(1 << 23) & (-1 << (23 - rnd.nextInt(6))); break;
            case 2: m = 0x7fffff ^ (1 << rnd.nextInt(23)); break;
            default: m = rnd.nextInt(1 << 23) | 1; break;
        }
        float v = Math.scalb(1f + m * 0x1p-23f, e);
        if (Float.isInfinite(v)) v = Float.MAX_VALUE;
        if (v == 0) v = Float.MIN_VALUE;
        return rnd.nextBoolean() ? -v : v;
    }

    /** Pairs of exponent ranges exercising the normal range, cancellation, subnormals and overflow. */
    int[] exps(boolean dbl) {
        int emax = dbl ? 1023 : 127, emin = dbl ? -1074 : -149;
        switch (rnd.nextInt(6)) {
            case 0: return new int[] {-4, 4, -4, 4};
            case 1: return new int[] {-60, 60, -60, 60};
            case 2: return new int[] {emax - 3, emax, -2, 2};
            case 3: return new int[] {emin, emin + 60, -3, 3};
            case 4: return new int[] {emin / 2 - 5, emin / 2 + 5, emin / 2 - 5, emin / 2 + 5};
            default: return new int[] {emin, emax, emin, emax};
        }
    }

    // ---------------------------------------------------------------------------------------- exec helpers

    final long[] x = new long[32];
    final long[] f = new long[32];
    final FpCsr csr = new FpCsr();

    static int rType(int funct7, int rs2, int rs1, int rm, int rd) {
        return (funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | 0x53;
    }

    long exec(int insn, long a, long b, long c) {
        f[1] = a;
        f[2] = b;
        f[4] = c;
        csr.fflags = 0;
        if (!FloatUnit.execute(insn, x, f, csr)) fail("illegal");
        return f[3];
    }

    static long box(float v) {
        return 0xFFFFFFFF00000000L | (Float.floatToRawIntBits(v) & 0xFFFFFFFFL);
    }

    void check(String what, long expected, int expFlags, long got, int gotFlags) {
        if (expected != got || expFlags != gotFlags) {
            fail(what + ": expected " + Long.toHexString(expected) + " flags " + expFlags + " but got "
                    + Long.toHexString(got) + " flags " + gotFlags);
        }
    }

    static final int N = 2500;

    // ---------------------------------------------------------------------------------------------- tests

    @Test
    void doubleArithmeticAgainstReference() {
        int[] out = new int[1];
        for (int i = 0; i < N; i++) {
            int[] ex = exps(true);
            double a = rdouble(ex[0], ex[1]);
            double b = rdouble(ex[2], ex[3]);
            if (rnd.nextInt(4) == 0) b = -a * (1 + rdouble(-60, -40)); // cancellation
            if (Double.isInfinite(b) || b == 0) b = -a;
            if (rnd.nextInt(4) == 0 && ex[0] == ex[2]) { double t = a; a = b; b = t; }
            double c = rdouble(ex[0] - 60, ex[1] + 2);
            for (int rm = 0; rm < 5; rm++) {
                String ctx = RM_NAMES[rm] + " a=" + a + " b=" + b;
                // add
                BigDecimal sum = bd(a).add(bd(b));
                if (sum.signum() != 0) {
                    long exp = refRound(v -> v.compareTo(sum), Fmt.D, rm, Double.doubleToRawLongBits(Math.abs(a + b)), out);
                    long got = exec(rType(0x01, 2, 1, rm, 3), d(a), d(b), 0);
                    check("fadd.d " + ctx, exp, out[0], got, csr.fflags);
                }
                // mul
                BigDecimal prod = bd(a).multiply(bd(b));
                long exp = refRound(v -> v.compareTo(prod), Fmt.D, rm, Double.doubleToRawLongBits(Math.abs(a * b)), out);
                check("fmul.d " + ctx, exp, out[0], exec(rType(0x09, 2, 1, rm, 3), d(a), d(b), 0), csr.fflags);
                // div: sign(v - a/b) = sign(v*b - a) * sign(b)
                BigDecimal ba = bd(a), bb = bd(b);
                int sb = bb.signum();
                exp = refRound(v -> v.multiply(bb).compareTo(ba) * sb, Fmt.D, rm,
                        Double.doubleToRawLongBits(Math.abs(a / b)), out);
                check("fdiv.d " + ctx, exp, out[0], exec(rType(0x0d, 2, 1, rm, 3), d(a), d(b), 0), csr.fflags);
                // sqrt
                double aa = Math.abs(a);
                BigDecimal baa = bd(aa);
                exp = refRound(v -> v.signum() < 0 ? -1 : v.multiply(v).compareTo(baa), Fmt.D, rm,
                        Double.doubleToRawLongBits(Math.sqrt(aa)), out);
                check("fsqrt.d " + ctx, exp, out[0], exec(rType(0x2d, 0, 1, rm, 3), d(aa), 0, 0), csr.fflags);
                // fma
                BigDecimal fm = prod.add(bd(c));
                if (fm.signum() != 0) {
                    exp = refRound(v -> v.compareTo(fm), Fmt.D, rm,
                            Double.doubleToRawLongBits(Math.abs(Math.fma(a, b, c))), out);
                    int insn = (4 << 27) | (1 << 25) | (2 << 20) | (1 << 15) | (rm << 12) | (3 << 7) | 0x43;
                    check("fmadd.d " + ctx + " c=" + c, exp, out[0], exec(insn, d(a), d(b), d(c)), csr.fflags);
                }
            }
        }
    }

    @Test
    void fmaCancellationAgainstReference() {
        // a*b close to -c: the hard case for fused multiply-add error analysis
        int[] out = new int[1];
        for (int i = 0; i < N; i++) {
            int[] ex = exps(true);
            double a = rdouble(ex[0], ex[1]);
            double b = rdouble(ex[2], ex[3]);
            double p = a * b;
            if (Double.isInfinite(p) || p == 0) continue;
            double c = -p;
            switch (rnd.nextInt(4)) {
                case 0: break;
                case 1: c = Math.nextUp(c); break;
                case 2: c = -p * (1 + rdouble(-80, -20)); break;
                default: c = -Math.fma(a, b, rdouble(-30, 0) * Math.ulp(p)); break;
            }
            if (Double.isInfinite(c)) continue;
            double cc = c;
            BigDecimal fm = bd(a).multiply(bd(b)).add(bd(cc));
            if (fm.signum() == 0) continue;
            for (int rm = 0; rm < 5; rm++) {
                long exp = refRound(v -> v.compareTo(fm), Fmt.D, rm,
                        Double.doubleToRawLongBits(Math.abs(Math.fma(a, b, cc))), out);
                int insn = (4 << 27) | (1 << 25) | (2 << 20) | (1 << 15) | (rm << 12) | (3 << 7) | 0x43;
                check("fmadd.d " + RM_NAMES[rm] + " " + a + " " + b + " " + cc, exp, out[0],
                        exec(insn, d(a), d(b), d(cc)), csr.fflags);
            }
        }
    }

    @Test
    void singleArithmeticAgainstReference() {
        int[] out = new int[1];
        for (int i = 0; i < N * 2; i++) {
            int[] ex = exps(false);
            float a = rfloat(ex[0], ex[1]);
            float b = rfloat(ex[2], ex[3]);
            if (rnd.nextInt(4) == 0) b = -a * (1 + rfloat(-30, -15));
            if (Float.isInfinite(b) || b == 0) b = -a;
            float c = rfloat(ex[0] - 30, ex[1] + 2);
            for (int rm = 0; rm < 5; rm++) {
                String ctx = RM_NAMES[rm] + " a=" + a + " b=" + b;
                BigDecimal sum = bd(a).add(bd(b));
                if (sum.signum() != 0) {
                    long exp = refRound(v -> v.compareTo(sum), Fmt.S, rm, Float.floatToRawIntBits(Math.abs(a + b)), out);
                    check("fadd.s " + ctx, exp, out[0], unbox(exec(rType(0x00, 2, 1, rm, 3), box(a), box(b), 0)), csr.fflags);
                }
                BigDecimal prod = bd(a).multiply(bd(b));
                long exp = refRound(v -> v.compareTo(prod), Fmt.S, rm, Float.floatToRawIntBits(Math.abs(a * b)), out);
                check("fmul.s " + ctx, exp, out[0], unbox(exec(rType(0x08, 2, 1, rm, 3), box(a), box(b), 0)), csr.fflags);
                BigDecimal ba = bd(a), bb = bd(b);
                int sb = bb.signum();
                exp = refRound(v -> v.multiply(bb).compareTo(ba) * sb, Fmt.S, rm,
                        Float.floatToRawIntBits(Math.abs(a / b)), out);
                check("fdiv.s " + ctx, exp, out[0], unbox(exec(rType(0x0c, 2, 1, rm, 3), box(a), box(b), 0)), csr.fflags);
                float aa = Math.abs(a);
                BigDecimal baa = bd(aa);
                exp = refRound(v -> v.signum() < 0 ? -1 : v.multiply(v).compareTo(baa), Fmt.S, rm,
                        Float.floatToRawIntBits((float) Math.sqrt(aa)), out);
                check("fsqrt.s " + ctx, exp, out[0], unbox(exec(rType(0x2c, 0, 1, rm, 3), box(aa), 0, 0)), csr.fflags);
                float cc = rnd.nextInt(3) == 0 && !Float.isInfinite(a * b) ? -a * b : c;
                BigDecimal fm = prod.add(bd(cc));
                if (fm.signum() != 0) {
                    exp = refRound(v -> v.compareTo(fm), Fmt.S, rm, Float.floatToRawIntBits(Math.abs(Math.fma(a, b, cc))), out);
                    int insn = (4 << 27) | (2 << 20) | (1 << 15) | (rm << 12) | (3 << 7) | 0x43;
                    check("fmadd.s " + ctx + " c=" + cc, exp, out[0], unbox(exec(insn, box(a), box(b), box(cc))), csr.fflags);
                }
                // fcvt.s.d of a random double
                double dv = rdouble(ex[0] - 3, ex[1] + 3);
                BigDecimal bdv = bd(dv);
                exp = refRound(v -> v.compareTo(bdv), Fmt.S, rm, Float.floatToRawIntBits(Math.abs((float) dv)), out);
                check("fcvt.s.d " + RM_NAMES[rm] + " " + dv, exp, out[0],
                        unbox(exec(rType(0x20, 1, 1, rm, 3), d(dv), 0, 0)), csr.fflags);
            }
        }
    }

    @Test
    void integerConversionsAgainstReference() {
        RoundingMode[] modes = {RoundingMode.HALF_EVEN, RoundingMode.DOWN, RoundingMode.FLOOR, RoundingMode.CEILING,
            RoundingMode.HALF_UP};
        BigInteger[] lo = {BigInteger.valueOf(Integer.MIN_VALUE), BigInteger.ZERO, BigInteger.valueOf(Long.MIN_VALUE),
            BigInteger.ZERO};
        BigInteger[] hi = {BigInteger.valueOf(Integer.MAX_VALUE), BigInteger.valueOf(0xFFFFFFFFL),
            BigInteger.valueOf(Long.MAX_VALUE), BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE)};
        int[] out = new int[1];
        for (int i = 0; i < N * 2; i++) {
            int kind = rnd.nextInt(4);
            double v;
            switch (rnd.nextInt(4)) {
                case 0: v = rdouble(-3, 3); break;
                case 1: v = rdouble(28, 33); break;
                case 2: v = rdouble(60, 65); break;
                default: v = (rnd.nextInt(2001) - 1000) / 4.0; break;
            }
            boolean single = rnd.nextBoolean();
            if (single) v = (float) v;
            for (int rm = 0; rm < 5; rm++) {
                BigInteger r = bd(v).setScale(0, modes[rm]).toBigIntegerExact();
                long expected;
                int expFlags;
                if (r.compareTo(lo[kind]) < 0) {
                    expected = lo[kind].longValue();
                    expFlags = NV;
                } else if (r.compareTo(hi[kind]) > 0) {
                    expected = hi[kind].longValue();
                    expFlags = NV;
                } else {
                    expected = r.longValue();
                    expFlags = bd(v).compareTo(new BigDecimal(r)) == 0 ? 0 : NX;
                }
                if (kind < 2) expected = (int) expected; // 32-bit results are sign-extended
                long src = single ? box((float) v) : d(v);
                exec(rType(single ? 0x60 : 0x61, kind, 1, rm, 5), src, 0, 0);
                check("fcvt kind=" + kind + " " + RM_NAMES[rm] + " v=" + v, expected, expFlags, x[5], csr.fflags);
            }
            // integer -> float
            long iv = switch (rnd.nextInt(3)) {
                case 0 -> rnd.nextLong();
                case 1 -> rnd.nextLong() >> rnd.nextInt(64);
                default -> rnd.nextLong() & (-1L << rnd.nextInt(64));
            };
            BigInteger exact = switch (kind) {
                case 0 -> BigInteger.valueOf((int) iv);
                case 1 -> BigInteger.valueOf(iv & 0xFFFFFFFFL);
                case 2 -> BigInteger.valueOf(iv);
                default -> new BigInteger(Long.toUnsignedString(iv));
            };
            if (exact.signum() == 0) continue;
            BigDecimal be = new BigDecimal(exact);
            for (int rm = 0; rm < 5; rm++) {
                long exp = refRound(w -> w.compareTo(be), Fmt.D, rm,
                        Double.doubleToRawLongBits(Math.abs(be.doubleValue())), out);
                x[6] = iv;
                exec(rType(0x69, kind, 6, rm, 3), 0, 0, 0);
                check("fcvt.d.int kind=" + kind + " " + RM_NAMES[rm] + " " + exact, exp, out[0], f[3], csr.fflags);
                exp = refRound(w -> w.compareTo(be), Fmt.S, rm, Float.floatToRawIntBits(Math.abs(be.floatValue())), out);
                exec(rType(0x68, kind, 6, rm, 3), 0, 0, 0);
                check("fcvt.s.int kind=" + kind + " " + RM_NAMES[rm] + " " + exact, exp, out[0], unbox(f[3]), csr.fflags);
            }
        }
    }

    /** The allocation-free fast paths must agree with the exact slow path, bit for bit and flag for flag. */
    @Test
    void fastPathsMatchExactSlowPath() {
        FpCsr c1 = new FpCsr(), c2 = new FpCsr();
        for (int i = 0; i < N * 5; i++) {
            int[] ex = exps(true);
            long a = d(rdouble(ex[0], ex[1])), b = d(rdouble(ex[2], ex[3])), c = d(rdouble(ex[0] - 60, ex[1] + 2));
            if (rnd.nextInt(5) == 0) b = d(-Double.longBitsToDouble(a) * (1 + rdouble(-60, -30)));
            if (rnd.nextInt(5) == 0) c = d(-Math.fma(Double.longBitsToDouble(a), Double.longBitsToDouble(b),
                    rdouble(-20, 0) * Math.ulp(Double.longBitsToDouble(a) * Double.longBitsToDouble(b))));
            for (int rm = 0; rm < 5; rm++) {
                String ctx = RM_NAMES[rm] + " " + Long.toHexString(a) + " " + Long.toHexString(b) + " " + Long.toHexString(c);
                c1.fflags = c2.fflags = 0;
                check("add " + ctx, SoftFloat.add(a, b, rm, c1), c1.fflags, FloatUnit.addD(a, b, rm, c2), c2.fflags);
                c1.fflags = c2.fflags = 0;
                check("mul " + ctx, SoftFloat.mul(a, b, rm, c1), c1.fflags, FloatUnit.mulD(a, b, rm, c2), c2.fflags);
                c1.fflags = c2.fflags = 0;
                check("div " + ctx, SoftFloat.div(a, b, rm, c1), c1.fflags, FloatUnit.divD(a, b, rm, c2), c2.fflags);
                c1.fflags = c2.fflags = 0;
                check("sqrt " + ctx, SoftFloat.sqrt(a, rm, c1), c1.fflags, FloatUnit.sqrtD(a, rm, c2), c2.fflags);
                c1.fflags = c2.fflags = 0;
                check("fma " + ctx, SoftFloat.fma(a, b, c, rm, c1), c1.fflags, FloatUnit.fmaD(a, b, c, rm, c2), c2.fflags);
            }
        }
    }

    static long d(double v) {
        return Double.doubleToRawLongBits(v);
    }

    static long unbox(long v) {
        assertEquals(0xFFFFFFFF00000000L, v & 0xFFFFFFFF00000000L, "not NaN-boxed");
        return v & 0xFFFFFFFFL;
    }
}
