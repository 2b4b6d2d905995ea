package dev.visor.net.user;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of 16-bit words.
 * Sums are carried in a {@code long} and folded at the end; adding 32-bit big-endian words is the same
 * as adding their two 16-bit halves, because 2^16 = 1 modulo 0xffff.
 */
final class Checksums {
    private static final VarHandle INT_BE = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);

    private Checksums() { }

    /** Adds {@code len} bytes at {@code off} (an odd tail is padded with a zero byte) to {@code acc}. */
    static long add(long acc, byte[] a, int off, int len) {
        int i = off, end = off + len;
        for (; i + 4 <= end; i += 4) acc += (int) INT_BE.get(a, i) & 0xffffffffL;
        if (i + 2 <= end) {
            acc += (a[i] & 0xff) << 8 | (a[i + 1] & 0xff);
            i += 2;
        }
        if (i < end) acc += (a[i] & 0xff) << 8;
        return acc;
    }

    /** The TCP/UDP pseudo-header sum (RFC 793 §3.1, RFC 768). */
    static long pseudoHeader(int src, int dst, int protocol, int length) {
        return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
    }

    /** The checksum field value for a sum taken with the field zeroed. */
    static int finish(long acc) {
        return ~fold(acc) & 0xffff;
    }

    /** True when a sum taken over data that includes its checksum field verifies. */
    static boolean valid(long acc) {
        return fold(acc) == 0xffff;
    }

    private static int fold(long acc) {
        while ((acc >>> 16) != 0) acc = (acc & 0xffff) + (acc >>> 16);
        return (int) acc;
    }
}
