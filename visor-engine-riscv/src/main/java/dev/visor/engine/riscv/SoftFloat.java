package dev.visor.engine.riscv;

import static dev.visor.engine.riscv.FloatUnit.CNAN_D;
import static dev.visor.engine.riscv.FloatUnit.CNAN_S;
import static dev.visor.engine.riscv.FloatUnit.DZ;
import static dev.visor.engine.riscv.FloatUnit.NV;
import static dev.visor.engine.riscv.FloatUnit.NX;
import static dev.visor.engine.riscv.FloatUnit.OF;
import static dev.visor.engine.riscv.FloatUnit.RDN;
import static dev.visor.engine.riscv.FloatUnit.RMM;
import static dev.visor.engine.riscv.FloatUnit.RNE;
import static dev.visor.engine.riscv.FloatUnit.RUP;
import static dev.visor.engine.riscv.FloatUnit.SIGN_D;
import static dev.visor.engine.riscv.FloatUnit.UF;
import static dev.visor.engine.riscv.FloatUnit.isNaND;
import static dev.visor.engine.riscv.FloatUnit.isSNaND;

import java.math.BigInteger;

/**
 * Exact slow path of {@link FloatUnit}: special operands (NaN, infinity, zero) without allocation, and finite
 * operands by exact integer arithmetic followed by a SoftFloat-style round-and-pack (tininess detected after
 * rounding, as RISC-V requires). Used only for rare cases (overflow, results near or in the subnormal range,
 * extreme operand exponents).
 */
final class SoftFloat {
    private SoftFloat() {}

    /** Marker meaning "operands are finite and the product/sum must really be computed" (an sNaN pattern). */
    static final long NONE = 0x7ff0000000000001L;

    private static final long INF_D = 0x7ff0000000000000L;
    private static final long MANT_D = 0x000fffffffffffffL;

    private static boolean isInf(long b) {
        return (b & ~SIGN_D) == INF_D;
    }

    private static boolean isZero(long b) {
        return (b << 1) == 0;
    }

    /** Significand of a finite double as an integer (with the hidden bit). */
    private static long mant(long b) {
        long m = b & MANT_D;
        return ((b >>> 52) & 0x7ff) == 0 ? m : m | (1L << 52);
    }

    /** Exponent of the least significant significand bit of a finite double. */
    private static int lsbExp(long b) {
        int e = (int) (b >>> 52) & 0x7ff;
        return e == 0 ? -1074 : e - 1075;
    }

    // ---------------------------------------------------------------------------------------- round & pack

    private static long roundShift(long sig, int sh, int rm, boolean neg) {
        long q = sig >>> sh;
        long rem = sig & ((1L << sh) - 1);
        long half = 1L << (sh - 1);
        switch (rm) {
            case RNE:
                if (rem > half || (rem == half && (q & 1) != 0)) q++;
                break;
            case RDN:
                if (rem != 0 && neg) q++;
                break;
            case RUP:
                if (rem != 0 && !neg) q++;
                break;
            case RMM:
                if (rem >= half) q++;
                break;
            default: // RTZ
                break;
        }
        return q;
    }

    /**
     * Rounds (-1)^neg * sig * 2^exp (0 < sig < 2^63; the lowest bit may be a sticky bit as long as at least two
     * more bits than the target precision are present) to binary64 (dbl) or binary32 in mode rm. Returns the raw
     * bits (binary32 in the low 32 bits) and ORs NX/UF/OF into csr.fflags.
     */
    static long roundPack(boolean neg, long sig, int exp, int rm, boolean dbl, FpCsr csr) {
        int nlz = Long.numberOfLeadingZeros(sig);
        sig <<= nlz - 1;
        exp -= nlz - 1; // now sig in [2^62, 2^63)
        int p = dbl ? 53 : 24;
        int emin = dbl ? -1022 : -126;
        int emax = dbl ? 1023 : 127;
        int e = exp + 62; // unbiased exponent of the value
        int drop = 63 - p;
        int flags = 0;
        long bits;
        if (e >= emin) {
            long q = roundShift(sig, drop, rm, neg);
            if ((sig & ((1L << drop) - 1)) != 0) flags |= NX;
            if (q == (1L << p)) {
                q >>>= 1;
                e++;
            }
            if (e > emax) {
                flags |= OF | NX;
                boolean inf = rm == RNE || rm == RMM || (rm == RDN && neg) || (rm == RUP && !neg);
                bits = dbl ? (inf ? INF_D : 0x7fefffffffffffffL) : (inf ? 0x7f800000L : 0x7f7fffffL);
            } else {
                bits = ((long) (e + emax) << (p - 1)) + (q - (1L << (p - 1)));
            }
        } else {
            boolean tiny = e < emin - 1 || roundShift(sig, drop, rm, neg) < (1L << p);
            int sh = drop + (emin - e);
            if (sh > 63) {
                sig = 1; // entirely below half of the smallest subnormal: only a sticky bit remains
                sh = 63;
            }
            long q = roundShift(sig, sh, rm, neg);
            if ((sig & ((1L << sh) - 1)) != 0) flags |= tiny ? NX | UF : NX;
            bits = q; // subnormal encoding; q == 2^(p-1) encodes the smallest normal number
        }
        csr.fflags |= flags;
        if (neg) bits |= dbl ? SIGN_D : 0x80000000L;
        return bits;
    }

    /** Rounds a finite nonzero double to binary32 (dbl=false) or binary64 in mode rm. */
    static long roundDouble(double d, int rm, boolean dbl, FpCsr csr) {
        long b = Double.doubleToRawLongBits(d);
        return roundPack(b < 0, mant(b), lsbExp(b), rm, dbl, csr);
    }

    /** Rounds (-1)^neg * (n + (sticky ? some fraction in (0,1) : 0)) * 2^exp, n > 0, to binary64. */
    static long packBig(boolean neg, BigInteger n, int exp, boolean sticky, int rm, FpCsr csr) {
        int bl = n.bitLength();
        long sig;
        if (bl > 62) {
            int sh = bl - 62;
            sig = n.shiftRight(sh).longValue();
            if (sticky || n.getLowestSetBit() < sh) sig |= 1;
            exp += sh;
        } else {
            sig = n.longValue();
            if (sticky) {
                int sh = 62 - bl;
                sig = (sig << sh) | 1;
                exp -= sh;
            }
        }
        return roundPack(neg, sig, exp, rm, true, csr);
    }

    // ------------------------------------------------------------------------------------ single helpers

    /** Widens binary32 bits to binary64 bits exactly, keeping NaNs (and their signalling bit) as NaNs. */
    static long s2d(int s) {
        if ((s & 0x7f800000) == 0x7f800000) {
            return ((long) (s & 0x80000000) << 32) | INF_D | ((long) (s & 0x7fffff) << 29);
        }
        return Double.doubleToRawLongBits(Float.intBitsToFloat(s));
    }

    /** Narrows a special-case result (NaN, infinity, zero or an exactly representable value) to binary32. */
    static int toSingleSpecial(long r) {
        if (isNaND(r)) return CNAN_S;
        return Float.floatToRawIntBits((float) Double.longBitsToDouble(r));
    }

    // ------------------------------------------------------------------------------------- special cases

    static long addSpecial(long a, long b, int rm, FpCsr csr) {
        boolean na = isNaND(a), nb = isNaND(b);
        if (na || nb) {
            if (isSNaND(a) || isSNaND(b)) csr.fflags |= NV;
            return CNAN_D;
        }
        boolean ia = isInf(a), ib = isInf(b);
        if (ia || ib) {
            if (ia && ib && (a ^ b) < 0) {
                csr.fflags |= NV;
                return CNAN_D;
            }
            return ia ? a : b;
        }
        boolean za = isZero(a), zb = isZero(b);
        if (za && zb) return rm == RDN ? (a | b) : (a & b);
        if (za) return b;
        if (zb) return a;
        return NONE;
    }

    static long mulSpecial(long a, long b, FpCsr csr) {
        if (isNaND(a) || isNaND(b)) {
            if (isSNaND(a) || isSNaND(b)) csr.fflags |= NV;
            return CNAN_D;
        }
        long sign = (a ^ b) & SIGN_D;
        boolean ia = isInf(a), ib = isInf(b), za = isZero(a), zb = isZero(b);
        if ((ia && zb) || (ib && za)) {
            csr.fflags |= NV;
            return CNAN_D;
        }
        if (ia || ib) return sign | INF_D;
        if (za || zb) return sign;
        return NONE;
    }

    static long divSpecial(long a, long b, FpCsr csr) {
        if (isNaND(a) || isNaND(b)) {
            if (isSNaND(a) || isSNaND(b)) csr.fflags |= NV;
            return CNAN_D;
        }
        long sign = (a ^ b) & SIGN_D;
        boolean ia = isInf(a), ib = isInf(b), za = isZero(a), zb = isZero(b);
        if ((ia && ib) || (za && zb)) {
            csr.fflags |= NV;
            return CNAN_D;
        }
        if (ia) return sign | INF_D;
        if (ib) return sign;
        if (zb) {
            csr.fflags |= DZ;
            return sign | INF_D;
        }
        if (za) return sign;
        return NONE;
    }

    static long sqrtSpecial(long a, FpCsr csr) {
        if (isNaND(a)) {
            if (isSNaND(a)) csr.fflags |= NV;
            return CNAN_D;
        }
        if (isZero(a)) return a;
        if (a < 0) {
            csr.fflags |= NV;
            return CNAN_D;
        }
        if (isInf(a)) return a;
        return NONE;
    }

    static long fmaSpecial(long a, long b, long c, int rm, FpCsr csr) {
        boolean ia = isInf(a), ib = isInf(b), za = isZero(a), zb = isZero(b);
        boolean invalidProduct = (ia && zb) || (za && ib);
        if (isNaND(a) || isNaND(b) || isNaND(c)) {
            // the spec requires NV for inf*0 even when the addend is a quiet NaN
            if (invalidProduct || isSNaND(a) || isSNaND(b) || isSNaND(c)) csr.fflags |= NV;
            return CNAN_D;
        }
        if (invalidProduct) {
            csr.fflags |= NV;
            return CNAN_D;
        }
        long sp = (a ^ b) & SIGN_D;
        boolean ic = isInf(c);
        if (ia || ib) {
            if (ic && (c & SIGN_D) != sp) {
                csr.fflags |= NV;
                return CNAN_D;
            }
            return sp | INF_D;
        }
        if (ic) return c;
        if (za || zb) {
            if (isZero(c)) return rm == RDN ? (sp | c) : (sp & c);
            return c;
        }
        return NONE;
    }

    // ------------------------------------------------------------------------------------ exact double ops

    static long add(long a, long b, int rm, FpCsr csr) {
        long r = addSpecial(a, b, rm, csr);
        if (r != NONE) return r;
        int ea = lsbExp(a), eb = lsbExp(b);
        int e = Math.min(ea, eb);
        BigInteger x = BigInteger.valueOf(mant(a)).shiftLeft(ea - e);
        BigInteger y = BigInteger.valueOf(mant(b)).shiftLeft(eb - e);
        if (a < 0) x = x.negate();
        if (b < 0) y = y.negate();
        BigInteger s = x.add(y);
        int sg = s.signum();
        if (sg == 0) return rm == RDN ? SIGN_D : 0;
        return packBig(sg < 0, s.abs(), e, false, rm, csr);
    }

    static long mul(long a, long b, int rm, FpCsr csr) {
        long r = mulSpecial(a, b, csr);
        if (r != NONE) return r;
        BigInteger p = BigInteger.valueOf(mant(a)).multiply(BigInteger.valueOf(mant(b)));
        return packBig((a ^ b) < 0, p, lsbExp(a) + lsbExp(b), false, rm, csr);
    }

    static long div(long a, long b, int rm, FpCsr csr) {
        long r = divSpecial(a, b, csr);
        if (r != NONE) return r;
        BigInteger[] qr = BigInteger.valueOf(mant(a)).shiftLeft(116).divideAndRemainder(BigInteger.valueOf(mant(b)));
        return packBig((a ^ b) < 0, qr[0], lsbExp(a) - 116 - lsbExp(b), qr[1].signum() != 0, rm, csr);
    }

    static long sqrt(long a, int rm, FpCsr csr) {
        long r = sqrtSpecial(a, csr);
        if (r != NONE) return r;
        BigInteger m = BigInteger.valueOf(mant(a));
        int e = lsbExp(a);
        if ((e & 1) != 0) {
            m = m.shiftLeft(1);
            e--;
        }
        m = m.shiftLeft(128);
        BigInteger s = m.sqrt();
        boolean sticky = !s.multiply(s).equals(m);
        return packBig(false, s, (e - 128) / 2, sticky, rm, csr);
    }

    static long fma(long a, long b, long c, int rm, FpCsr csr) {
        long r = fmaSpecial(a, b, c, rm, csr);
        if (r != NONE) return r;
        BigInteger p = BigInteger.valueOf(mant(a)).multiply(BigInteger.valueOf(mant(b)));
        int ep = lsbExp(a) + lsbExp(b);
        boolean pneg = (a ^ b) < 0;
        if (isZero(c)) return packBig(pneg, p, ep, false, rm, csr);
        int ec = lsbExp(c);
        int e = Math.min(ep, ec);
        BigInteger x = p.shiftLeft(ep - e);
        BigInteger y = BigInteger.valueOf(mant(c)).shiftLeft(ec - e);
        if (pneg) x = x.negate();
        if (c < 0) y = y.negate();
        BigInteger s = x.add(y);
        int sg = s.signum();
        if (sg == 0) return rm == RDN ? SIGN_D : 0;
        return packBig(sg < 0, s.abs(), e, false, rm, csr);
    }
}
