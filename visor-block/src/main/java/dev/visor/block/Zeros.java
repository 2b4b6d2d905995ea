package dev.visor.block;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * One shared, read-only block of zero bytes, so that writing or comparing zeros never allocates per
 * call. It is native memory so that a channel writes it without first copying it to a direct buffer.
 */
final class Zeros {
    /** 1 MiB: large enough that zeroing a big range takes few system calls, small enough to keep for good. */
    static final int CHUNK = 1 << 20;

    static final MemorySegment SEGMENT = Arena.global().allocate(CHUNK, 4096).asReadOnly();

    private Zeros() {}

    /** A read-only view of {@code length} zero bytes, {@code length <= CHUNK}. */
    static MemorySegment of(long length) { return SEGMENT.asSlice(0, length); }

    /** True if every byte of {@code s} is zero. */
    static boolean isZero(MemorySegment s) {
        long size = s.byteSize();
        for (long at = 0; at < size; at += CHUNK) {
            long n = Math.min(CHUNK, size - at);
            if (MemorySegment.mismatch(s, at, at + n, SEGMENT, 0, n) != -1) return false;
        }
        return true;
    }
}
