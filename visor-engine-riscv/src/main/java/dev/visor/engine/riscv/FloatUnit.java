package dev.visor.engine.riscv;

import static java.lang.Double.doubleToRawLongBits;
import static java.lang.Double.longBitsToDouble;
import static java.lang.Float.floatToRawIntBits;
import static java.lang.Float.intBitsToFloat;

/**
 * RV64 F and D extension arithmetic (unprivileged ISA 20191213, chapters 11-12).
 *
 * <p>Strategy: Java's hardware arithmetic is correctly rounded to nearest-even. For every operation the exact
 * rounding error is recovered with error-free transformations (TwoSum, fma-based TwoProduct, fma-based division and
 * square-root remainders, ErrFma for fused multiply-add). The error tells whether the result is inexact (NX), and
 * for directed rounding modes the nearest-even result is stepped one ulp in the required direction. Single-precision
 * operations are evaluated in double precision together with the sign of the remaining error; the double is then
 * rounded to odd, which makes the final rounding to binary32 correct in every mode (53 >= 24 + 2).
 *
 * <p>Cases outside the ranges where these transformations are proven exact (overflow, results near or below the
 * normal range, huge or tiny operands, special values) are handed to {@link SoftFloat}, which computes exactly with
 * integers. The common path allocates nothing and throws nothing.
 */
final class FloatUnit {
    private FloatUnit() {}

    static final int NV = 16, DZ = 8, OF = 4, UF = 2, NX = 1;
    static final int RNE = 0, RTZ = 1, RDN = 2, RUP = 3, RMM = 4;

    static final long BOX = 0xFFFFFFFF00000000L;
    static final int CNAN_S = 0x7fc00000;
    static final long CNAN_D = 0x7ff8000000000000L;
    static final int SIGN_S = 0x80000000;
    static final long SIGN_D = 0x8000000000000000L;

    /**
     * Executes one instruction of major opcode 0x43 FMADD, 0x47 FMSUB, 0x4B FNMSUB, 0x4F FNMADD or 0x53 OP-FP.
     * x: integer registers (x[0] is never written); f: FP registers as raw 64-bit patterns (single values NaN-boxed).
     * Returns false if the encoding is illegal (unknown funct, reserved rm 5/6, or rm=7 with frm invalid); then
     * nothing is changed. Accumulates exception flags into csr.fflags.
     */
    static boolean execute(int insn, long[] x, long[] f, FpCsr csr) {
        int opcode = insn & 0x7f;
        int rd = (insn >>> 7) & 31;
        int rmf = (insn >>> 12) & 7;
        int rs1 = (insn >>> 15) & 31;
        int rs2 = (insn >>> 20) & 31;
        if (opcode == 0x53) return opFp(insn, rd, rmf, rs1, rs2, x, f, csr);
        if (opcode != 0x43 && opcode != 0x47 && opcode != 0x4b && opcode != 0x4f) return false;
        int fmt = (insn >>> 25) & 3;
        if (fmt > 1) return false;
        int rm = rmf == 7 ? csr.frm : rmf;
        if (rm < 0 || rm > 4) return false;
        int rs3 = insn >>> 27;
        boolean negProduct = opcode == 0x4b || opcode == 0x4f; // FNMSUB, FNMADD
        boolean negAddend = opcode == 0x47 || opcode == 0x4f;  // FMSUB, FNMADD
        if (fmt == 0) {
            int a = unbox(f[rs1]), b = unbox(f[rs2]), c = unbox(f[rs3]);
            if (negProduct) a ^= SIGN_S;
            if (negAddend) c ^= SIGN_S;
            f[rd] = box(fmaS(a, b, c, rm, csr));
        } else {
            long a = f[rs1], b = f[rs2], c = f[rs3];
            if (negProduct) a ^= SIGN_D;
            if (negAddend) c ^= SIGN_D;
            f[rd] = fmaD(a, b, c, rm, csr);
        }
        return true;
    }

    private static boolean opFp(int insn, int rd, int rmf, int rs1, int rs2, long[] x, long[] f, FpCsr csr) {
        int funct7 = insn >>> 25;
        int rm = rmf == 7 ? csr.frm : rmf; // only meaningful for instructions with a rounding-mode field
        boolean rmOk = rm >= 0 && rm <= 4;
        switch (funct7) {
            case 0x00: // FADD.S
                if (!rmOk) return false;
                f[rd] = box(addS(unbox(f[rs1]), unbox(f[rs2]), rm, csr));
                return true;
            case 0x01: // FADD.D
                if (!rmOk) return false;
                f[rd] = addD(f[rs1], f[rs2], rm, csr);
                return true;
            case 0x04: // FSUB.S
                if (!rmOk) return false;
                f[rd] = box(addS(unbox(f[rs1]), unbox(f[rs2]) ^ SIGN_S, rm, csr));
                return true;
            case 0x05: // FSUB.D
                if (!rmOk) return false;
                f[rd] = addD(f[rs1], f[rs2] ^ SIGN_D, rm, csr);
                return true;
            case 0x08: // FMUL.S
                if (!rmOk) return false;
                f[rd] = box(mulS(unbox(f[rs1]), unbox(f[rs2]), rm, csr));
                return true;
            case 0x09: // FMUL.D
                if (!rmOk) return false;
                f[rd] = mulD(f[rs1], f[rs2], rm, csr);
                return true;
            case 0x0c: // FDIV.S
                if (!rmOk) return false;
                f[rd] = box(divS(unbox(f[rs1]), unbox(f[rs2]), rm, csr));
                return true;
            case 0x0d: // FDIV.D
                if (!rmOk) return false;
                f[rd] = divD(f[rs1], f[rs2], rm, csr);
                return true;
            case 0x2c: // FSQRT.S
                if (!rmOk || rs2 != 0) return false;
                f[rd] = box(sqrtS(unbox(f[rs1]), rm, csr));
                return true;
            case 0x2d: // FSQRT.D
                if (!rmOk || rs2 != 0) return false;
                f[rd] = sqrtD(f[rs1], rm, csr);
                return true;
            case 0x10: { // FSGNJ.S / FSGNJN.S / FSGNJX.S
                if (rmf > 2) return false;
                int a = unbox(f[rs1]), b = unbox(f[rs2]);
                int s = rmf == 0 ? b : rmf == 1 ? ~b : a ^ b;
                f[rd] = box((a & ~SIGN_S) | (s & SIGN_S));
                return true;
            }
            case 0x11: { // FSGNJ.D / FSGNJN.D / FSGNJX.D
                if (rmf > 2) return false;
                long a = f[rs1], b = f[rs2];
                long s = rmf == 0 ? b : rmf == 1 ? ~b : a ^ b;
                f[rd] = (a & ~SIGN_D) | (s & SIGN_D);
                return true;
            }
            case 0x14: // FMIN.S / FMAX.S
                if (rmf > 1) return false;
                f[rd] = box(minMaxS(unbox(f[rs1]), unbox(f[rs2]), rmf == 1, csr));
                return true;
            case 0x15: // FMIN.D / FMAX.D
                if (rmf > 1) return false;
                f[rd] = minMaxD(f[rs1], f[rs2], rmf == 1, csr);
                return true;
            case 0x20: // FCVT.S.D
                if (!rmOk || rs2 != 1) return false;
                f[rd] = box(cvtSD(f[rs1], rm, csr));
                return true;
            case 0x21: // FCVT.D.S
                if (!rmOk || rs2 != 0) return false;
                f[rd] = cvtDS(unbox(f[rs1]), csr);
                return true;
            case 0x50: { // FLE.S / FLT.S / FEQ.S
                if (rmf > 2) return false;
                long r = cmpS(unbox(f[rs1]), unbox(f[rs2]), rmf, csr);
                if (rd != 0) x[rd] = r;
                return true;
            }
            case 0x51: { // FLE.D / FLT.D / FEQ.D
                if (rmf > 2) return false;
                long r = cmpD(f[rs1], f[rs2], rmf, csr);
                if (rd != 0) x[rd] = r;
                return true;
            }
            case 0x60: { // FCVT.W.S / WU / L / LU
                if (!rmOk || rs2 > 3) return false;
                long r = toInt(intBitsToFloat(unbox(f[rs1])), rs2, rm, csr);
                if (rd != 0) x[rd] = r;
                return true;
            }
            case 0x61: { // FCVT.W.D / WU / L / LU
                if (!rmOk || rs2 > 3) return false;
                long r = toInt(longBitsToDouble(f[rs1]), rs2, rm, csr);
                if (rd != 0) x[rd] = r;
                return true;
            }
            case 0x68: // FCVT.S.W / WU / L / LU
                if (!rmOk || rs2 > 3) return false;
                f[rd] = box((int) fromInt(x[rs1], rs2, false, rm, csr));
                return true;
            case 0x69: // FCVT.D.W / WU / L / LU
                if (!rmOk || rs2 > 3) return false;
                f[rd] = fromInt(x[rs1], rs2, true, rm, csr);
                return true;
            case 0x70: { // FMV.X.W / FCLASS.S
                if (rs2 != 0 || rmf > 1) return false;
                long r = rmf == 0 ? (long) (int) f[rs1] : classS(unbox(f[rs1]));
                if (rd != 0) x[rd] = r;
                return true;
            }
            case 0x71: { // FMV.X.D / FCLASS.D
                if (rs2 != 0 || rmf > 1) return false;
                long r = rmf == 0 ? f[rs1] : classD(f[rs1]);
                if (rd != 0) x[rd] = r;
                return true;
            }
            case 0x78: // FMV.W.X
                if (rs2 != 0 || rmf != 0) return false;
                f[rd] = box((int) x[rs1]);
                return true;
            case 0x79: // FMV.D.X
                if (rs2 != 0 || rmf != 0) return false;
                f[rd] = x[rs1];
                return true;
            default:
                return false;
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /** Reads a single operand: an improperly NaN-boxed value reads as the canonical NaN. */
    static int unbox(long v) {
        return (v & BOX) == BOX ? (int) v : CNAN_S;
    }

    static long box(int bits) {
        return BOX | (bits & 0xFFFFFFFFL);
    }

    static boolean isNaNS(int b) {
        return (b & 0x7fffffff) > 0x7f800000;
    }

    static boolean isSNaNS(int b) {
        return (b & 0x7fc00000) == 0x7f800000 && (b & 0x003fffff) != 0;
    }

    static boolean isNaND(long b) {
        return (b & 0x7fffffffffffffffL) > 0x7ff0000000000000L;
    }

    static boolean isSNaND(long b) {
        return (b & 0x7ff8000000000000L) == 0x7ff0000000000000L && (b & 0x0007ffffffffffffL) != 0;
    }

    /** Biased exponent field of a double. */
    private static int expD(long b) {
        return (int) (b >>> 52) & 0x7ff;
    }

    /**
     * Turns the nearest-even result r (finite, normal, biased exponent >= 2) into the result of directed mode rm,
     * given err = exact - r (only its sign matters unless tieable; with tieable, err is exact and RMM ties are
     * detected). Raises OF when stepping overflows (NX must already be set by the caller).
     */
    static double adjust(double r, double err, boolean tieable, int rm, FpCsr csr) {
        double n;
        switch (rm) {
            case RTZ:
                if ((r > 0) == (err > 0)) return r;
                n = r > 0 ? Math.nextDown(r) : Math.nextUp(r);
                break;
            case RDN:
                if (err > 0) return r;
                n = Math.nextDown(r);
                break;
            case RUP:
                if (err < 0) return r;
                n = Math.nextUp(r);
                break;
            case RMM:
                if (!tieable || (r > 0) != (err > 0) || Math.abs(err) != Math.ulp(r) * 0.5) return r;
                n = r > 0 ? Math.nextUp(r) : Math.nextDown(r);
                break;
            default:
                return r;
        }
        if (Double.isInfinite(n)) csr.fflags |= OF;
        return n;
    }

    /**
     * Rounds the value d + err to binary32 in mode rm, raising flags, where d is the double-precision
     * nearest-even result of a single-precision + - * / or sqrt and err the sign of (exact - d) (d finite; d == 0
     * only if err == 0). In RNE, double rounding is innocuous for these operations (53 >= 2*24 + 2), so the
     * common case is a plain narrowing cast.
     */
    static int toS(double d, double err, int rm, FpCsr csr) {
        if (rm == RNE) {
            float fl = (float) d;
            int fb = floatToRawIntBits(fl);
            int ef = (fb >>> 23) & 0xff;
            if (ef >= 2 && ef <= 254) {
                if (err != 0 || (double) fl != d) csr.fflags |= NX;
                return fb;
            }
        }
        return toSOdd(d, err, rm, csr);
    }

    /**
     * Rounds the value d + err (d finite; d == 0 only if err == 0; only the sign of err matters, d + err must lie
     * strictly between d and its neighbouring double when err != 0) to binary32 in mode rm, raising flags. Correct
     * for any d (also after catastrophic double rounding risks, e.g. fused multiply-add): d is first rounded to odd.
     */
    static int toSOdd(double d, double err, int rm, FpCsr csr) {
        if (err != 0 && (doubleToRawLongBits(d) & 1) == 0) {
            d = err > 0 ? Math.nextUp(d) : Math.nextDown(d); // round to odd: sticky bit in the last place
        }
        float fl = (float) d;
        int fb = floatToRawIntBits(fl);
        if (rm == RNE) {
            int ef = (fb >>> 23) & 0xff;
            if (ef >= 2 && ef <= 254) {
                if ((double) fl != d) csr.fflags |= NX;
                return fb;
            }
        }
        if ((double) fl == d) return fb;
        return (int) SoftFloat.roundDouble(d, rm, false, csr);
    }

    // ------------------------------------------------------------------------------------------- single ops

    static int addS(int a, int b, int rm, FpCsr csr) {
        if ((a & 0x7f800000) == 0x7f800000 || (b & 0x7f800000) == 0x7f800000) {
            return SoftFloat.toSingleSpecial(SoftFloat.addSpecial(SoftFloat.s2d(a), SoftFloat.s2d(b), rm, csr));
        }
        double x = intBitsToFloat(a), y = intBitsToFloat(b);
        double s = x + y;
        double bv = s - x;
        double e = (x - (s - bv)) + (y - bv);
        if (s == 0 && rm == RDN) return (a | b) == 0 ? 0 : SIGN_S;
        return toS(s, e, rm, csr);
    }

    static int mulS(int a, int b, int rm, FpCsr csr) {
        if ((a & 0x7f800000) == 0x7f800000 || (b & 0x7f800000) == 0x7f800000) {
            return SoftFloat.toSingleSpecial(SoftFloat.mulSpecial(SoftFloat.s2d(a), SoftFloat.s2d(b), csr));
        }
        double p = (double) intBitsToFloat(a) * (double) intBitsToFloat(b); // exact: 48 bits, in range
        return toS(p, 0, rm, csr);
    }

    static int divS(int a, int b, int rm, FpCsr csr) {
        if ((a & 0x7f800000) == 0x7f800000 || (b & 0x7f800000) == 0x7f800000 || (b & 0x7fffffff) == 0) {
            return SoftFloat.toSingleSpecial(SoftFloat.divSpecial(SoftFloat.s2d(a), SoftFloat.s2d(b), csr));
        }
        double x = intBitsToFloat(a), y = intBitsToFloat(b);
        double q = x / y;
        double rem = Math.fma(-q, y, x); // exact
        double err = rem == 0 ? 0 : ((rem > 0) == (y > 0) ? 1 : -1);
        return toS(q, err, rm, csr);
    }

    static int sqrtS(int a, int rm, FpCsr csr) {
        if ((a & 0x7f800000) == 0x7f800000 || (a < 0 && a != SIGN_S)) {
            return SoftFloat.toSingleSpecial(SoftFloat.sqrtSpecial(SoftFloat.s2d(a), csr));
        }
        double x = intBitsToFloat(a);
        double r = Math.sqrt(x);
        double rem = Math.fma(-r, r, x); // exact
        return toS(r, rem, rm, csr);
    }

    static int fmaS(int a, int b, int c, int rm, FpCsr csr) {
        if ((a & 0x7f800000) == 0x7f800000 || (b & 0x7f800000) == 0x7f800000
                || (c & 0x7f800000) == 0x7f800000) {
            return SoftFloat.toSingleSpecial(
                    SoftFloat.fmaSpecial(SoftFloat.s2d(a), SoftFloat.s2d(b), SoftFloat.s2d(c), rm, csr));
        }
        double p = (double) intBitsToFloat(a) * (double) intBitsToFloat(b); // exact
        double z = intBitsToFloat(c);
        double s = p + z;
        double bv = s - p;
        double e = (p - (s - bv)) + (z - bv);
        if (s == 0 && rm == RDN) return (doubleToRawLongBits(p) == 0 && c == 0) ? 0 : SIGN_S;
        return toSOdd(s, e, rm, csr);
    }

    static int minMaxS(int a, int b, boolean max, FpCsr csr) {
        boolean na = isNaNS(a), nb = isNaNS(b);
        if (na || nb) {
            if (isSNaNS(a) || isSNaNS(b)) csr.fflags |= NV;
            if (na && nb) return CNAN_S;
            return na ? b : a;
        }
        float x = intBitsToFloat(a), y = intBitsToFloat(b);
        if (x == y) return max ? (a & b) : (a | b); // equal values: only signed zeros differ (sign bit)
        return (x < y) != max ? a : b;
    }

    static long cmpS(int a, int b, int op, FpCsr csr) {
        if (isNaNS(a) || isNaNS(b)) {
            if (op != 2 || isSNaNS(a) || isSNaNS(b)) csr.fflags |= NV;
            return 0;
        }
        float x = intBitsToFloat(a), y = intBitsToFloat(b);
        boolean r = op == 0 ? x <= y : op == 1 ? x < y : x == y;
        return r ? 1 : 0;
    }

    static long classS(int b) {
        boolean neg = b < 0;
        int e = (b >>> 23) & 0xff, m = b & 0x7fffff;
        if (e == 0xff) {
            if (m == 0) return neg ? 1 : 1 << 7;
            return (m & 0x400000) != 0 ? 1 << 9 : 1 << 8;
        }
        if (e == 0) {
            if (m == 0) return neg ? 1 << 3 : 1 << 4;
            return neg ? 1 << 2 : 1 << 5;
        }
        return neg ? 1 << 1 : 1 << 6;
    }

    static int cvtSD(long a, int rm, FpCsr csr) {
        int e = expD(a);
        if (e == 0x7ff) {
            if ((a & 0x000fffffffffffffL) == 0) return (int) (a >>> 32) & SIGN_S | 0x7f800000;
            if (isSNaND(a)) csr.fflags |= NV;
            return CNAN_S;
        }
        return toS(longBitsToDouble(a), 0, rm, csr);
    }

    static long cvtDS(int a, FpCsr csr) {
        if (isNaNS(a)) {
            if (isSNaNS(a)) csr.fflags |= NV;
            return CNAN_D;
        }
        return doubleToRawLongBits(intBitsToFloat(a));
    }

    // ------------------------------------------------------------------------------------------- double ops

    static long addD(long a, long b, int rm, FpCsr csr) {
        if (expD(a) <= 0x7fd && expD(b) <= 0x7fd) { // |a|, |b| < 2^1022: no overflow anywhere in TwoSum
            double x = longBitsToDouble(a), y = longBitsToDouble(b);
            double s = x + y;
            double bv = s - x;
            double e = (x - (s - bv)) + (y - bv);
            if (e == 0) {
                if (s == 0 && rm == RDN) return (a | b) == 0 ? 0 : SIGN_D;
                return doubleToRawLongBits(s);
            }
            // inexact sums are far above the subnormal range, so s is normal and stepping cannot reach it
            csr.fflags |= NX;
            if (rm != RNE) s = adjust(s, e, true, rm, csr);
            return doubleToRawLongBits(s);
        }
        return SoftFloat.add(a, b, rm, csr);
    }

    static long mulD(long a, long b, int rm, FpCsr csr) {
        int ea = expD(a), eb = expD(b);
        if (ea != 0 && eb != 0 && ea != 0x7ff && eb != 0x7ff && ea + eb >= 1080) {
            double x = longBitsToDouble(a), y = longBitsToDouble(b);
            double p = x * y;
            long pb = doubleToRawLongBits(p);
            if (expD(pb) != 0x7ff) { // product error representable (lsb exponent sum >= -1074)
                double e = Math.fma(x, y, -p);
                if (e == 0) return pb;
                csr.fflags |= NX;
                if (rm != RNE) p = adjust(p, e, true, rm, csr);
                return doubleToRawLongBits(p);
            }
        }
        return SoftFloat.mul(a, b, rm, csr);
    }

    static long divD(long a, long b, int rm, FpCsr csr) {
        int ea = expD(a), eb = expD(b);
        if (ea >= 56 && eb != 0 && ea != 0x7ff && eb != 0x7ff) {
            double x = longBitsToDouble(a), y = longBitsToDouble(b);
            double q = x / y;
            long qb = doubleToRawLongBits(q);
            int eq = expD(qb);
            if (eq >= 2 && eq != 0x7ff && eq + eb >= 1080) { // remainder representable
                double rem = Math.fma(-q, y, x);
                if (rem == 0) return qb;
                csr.fflags |= NX;
                if (rm != RNE) q = adjust(q, (rem > 0) == (y > 0) ? 1 : -1, false, rm, csr);
                return doubleToRawLongBits(q);
            }
        }
        return SoftFloat.div(a, b, rm, csr);
    }

    static long sqrtD(long a, int rm, FpCsr csr) {
        int ea = expD(a);
        if (a > 0 && ea >= 64 && ea != 0x7ff) {
            double x = longBitsToDouble(a);
            double r = Math.sqrt(x);
            double rem = Math.fma(-r, r, x);
            if (rem == 0) return doubleToRawLongBits(r);
            csr.fflags |= NX;
            if (rm != RNE) r = adjust(r, rem, false, rm, csr);
            return doubleToRawLongBits(r);
        }
        return SoftFloat.sqrt(a, rm, csr);
    }

    static long fmaD(long a, long b, long c, int rm, FpCsr csr) {
        int ea = expD(a), eb = expD(b), ec = expD(c);
        int es = ea + eb;
        if (ea != 0 && eb != 0 && ea != 0x7ff && eb != 0x7ff && ec <= 0x7fd && es >= 1160 && es <= 3060) {
            double x = longBitsToDouble(a), y = longBitsToDouble(b), z = longBitsToDouble(c);
            double r1 = Math.fma(x, y, z);
            int er = expD(doubleToRawLongBits(r1));
            if (er >= 160) {
                // ErrFma (Boldo & Muller 2011): x*y + z == r1 + r2 + r3 exactly
                double u1 = x * y;
                double u2 = Math.fma(x, y, -u1);
                double a1 = z + u2;
                double t = a1 - z;
                double zz = (z - (a1 - t)) + (u2 - t);
                double b1 = u1 + a1;
                t = b1 - u1;
                double b2 = (u1 - (b1 - t)) + (a1 - t);
                double g = (b1 - r1) + b2;
                double r2 = g + zz;
                t = r2 - g;
                double r3 = (g - (r2 - t)) + (zz - t);
                if (r2 == 0) return doubleToRawLongBits(r1);
                csr.fflags |= NX;
                if (rm != RNE) r1 = adjust(r1, r2, r3 == 0, rm, csr);
                return doubleToRawLongBits(r1);
            }
        }
        return SoftFloat.fma(a, b, c, rm, csr);
    }

    static long minMaxD(long a, long b, boolean max, FpCsr csr) {
        boolean na = isNaND(a), nb = isNaND(b);
        if (na || nb) {
            if (isSNaND(a) || isSNaND(b)) csr.fflags |= NV;
            if (na && nb) return CNAN_D;
            return na ? b : a;
        }
        double x = longBitsToDouble(a), y = longBitsToDouble(b);
        if (x == y) return max ? (a & b) : (a | b);
        return (x < y) != max ? a : b;
    }

    static long cmpD(long a, long b, int op, FpCsr csr) {
        if (isNaND(a) || isNaND(b)) {
            if (op != 2 || isSNaND(a) || isSNaND(b)) csr.fflags |= NV;
            return 0;
        }
        double x = longBitsToDouble(a), y = longBitsToDouble(b);
        boolean r = op == 0 ? x <= y : op == 1 ? x < y : x == y;
        return r ? 1 : 0;
    }

    static long classD(long b) {
        boolean neg = b < 0;
        int e = expD(b);
        long m = b & 0x000fffffffffffffL;
        if (e == 0x7ff) {
            if (m == 0) return neg ? 1 : 1 << 7;
            return (m & 0x0008000000000000L) != 0 ? 1 << 9 : 1 << 8;
        }
        if (e == 0) {
            if (m == 0) return neg ? 1 << 3 : 1 << 4;
            return neg ? 1 << 2 : 1 << 5;
        }
        return neg ? 1 << 1 : 1 << 6;
    }

    // ------------------------------------------------------------------------------------------ conversions

    private static final double TWO31 = 2147483648.0, TWO32 = 4294967296.0;
    private static final double TWO63 = 9223372036854775808.0, TWO64 = 18446744073709551616.0;

    /** Rounds v (finite) to an integral double in mode rm. */
    static double roundInt(double v, int rm) {
        if (!(Math.abs(v) < 4503599627370496.0)) return v; // >= 2^52: already integral
        switch (rm) {
            case RNE: return Math.rint(v);
            case RTZ: return v < 0 ? Math.ceil(v) : Math.floor(v);
            case RDN: return Math.floor(v);
            case RUP: return Math.ceil(v);
            default: {
                double t = v < 0 ? Math.ceil(v) : Math.floor(v);
                double frac = v - t; // exact
                if (Math.abs(frac) >= 0.5) t += Math.copySign(1.0, v);
                return t;
            }
        }
    }

    /**
     * FCVT.{W,WU,L,LU}.{S,D}: kind 0=W 1=WU 2=L 3=LU. 32-bit results are sign-extended. Out-of-range values and
     * NaN saturate and raise NV only; in-range inexact results raise NX.
     */
    static long toInt(double v, int kind, int rm, FpCsr csr) {
        if (v != v) {
            csr.fflags |= NV;
            return kind == 0 ? Integer.MAX_VALUE : kind == 2 ? Long.MAX_VALUE : -1L;
        }
        double r = roundInt(v, rm);
        long res;
        switch (kind) {
            case 0:
                if (r >= TWO31) { csr.fflags |= NV; return Integer.MAX_VALUE; }
                if (r < -TWO31) { csr.fflags |= NV; return Integer.MIN_VALUE; }
                res = (long) r;
                break;
            case 1:
                if (r >= TWO32) { csr.fflags |= NV; return -1L; }
                if (r < 0) { csr.fflags |= NV; return 0; }
                res = (int) (long) r;
                break;
            case 2:
                if (r >= TWO63) { csr.fflags |= NV; return Long.MAX_VALUE; }
                if (r < -TWO63) { csr.fflags |= NV; return Long.MIN_VALUE; }
                res = (long) r;
                break;
            default:
                if (r >= TWO64) { csr.fflags |= NV; return -1L; }
                if (r < 0) { csr.fflags |= NV; return 0; }
                res = r >= TWO63 ? (long) (r - TWO63) | Long.MIN_VALUE : (long) r;
                break;
        }
        if (r != v) csr.fflags |= NX;
        return res;
    }

    /** FCVT.{S,D}.{W,WU,L,LU}: kind 0=W 1=WU 2=L 3=LU; returns raw double bits or raw (unboxed) single bits. */
    static long fromInt(long v, int kind, boolean dbl, int rm, FpCsr csr) {
        boolean signed = (kind & 1) == 0;
        if (kind < 2) v = signed ? (long) (int) v : v & 0xFFFFFFFFL;
        if (v == 0) return 0;
        boolean neg = signed && v < 0;
        long mag = neg ? -v : v;
        if (mag > 0) { // below 2^63
            if (dbl) {
                double d = (double) mag;
                if (mag < (1L << 53)) return doubleToRawLongBits(neg ? -d : d);
                if (rm == RNE) {
                    if ((long) d != mag) csr.fflags |= NX;
                    return doubleToRawLongBits(neg ? -d : d);
                }
            } else {
                float fl = (float) mag;
                if (mag < (1L << 24)) return floatToRawIntBits(neg ? -fl : fl);
                if (rm == RNE) {
                    if ((long) fl != mag) csr.fflags |= NX;
                    return floatToRawIntBits(neg ? -fl : fl);
                }
            }
            return SoftFloat.roundPack(neg, mag, 0, rm, dbl, csr);
        }
        // magnitude 2^63 or more: halve, keeping the lost bit as a sticky bit
        return SoftFloat.roundPack(neg, (mag >>> 1) | (mag & 1), 1, rm, dbl, csr);
    }
}
