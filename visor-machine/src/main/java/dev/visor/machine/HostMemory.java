package dev.visor.machine;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Host memory for guest RAM, reserved with {@code mmap} so that pages the guest never touches cost
 * the host nothing (the kernel backs them on first write). Where {@code mmap} is not available
 * (a JVM on a non-POSIX host) it falls back to a zeroed Java allocation, which is correct but eager.
 */
public final class HostMemory {
    private static final int PROT_READ = 1, PROT_WRITE = 2;
    private static final int MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20, MAP_NORESERVE = 0x4000;
    private static final int MADV_DONTNEED = 4;
    private static final MethodHandle MMAP, MADVISE, MINCORE;

    static {
        MethodHandle mmap = null, madvise = null, mincore = null;
        try {
            Linker linker = Linker.nativeLinker();
            var libc = linker.defaultLookup();
            mmap = linker.downcallHandle(libc.find("mmap").orElseThrow(), FunctionDescriptor.of(ValueLayout.ADDRESS,
                    ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
            madvise = linker.downcallHandle(libc.find("madvise").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
            mincore = linker.downcallHandle(libc.find("mincore").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));
        } catch (Throwable t) {
            // not a POSIX libc: use the eager fallback
        }
        MMAP = mmap;
        MADVISE = madvise;
        MINCORE = mincore;
    }

    /**
     * Bytes of {@code segment} (page-aligned) backed by host RAM right now, as mincore(2) reports;
     * -1 where the host cannot tell. For monitoring and for checking that released memory is gone.
     */
    public static long residentBytes(MemorySegment segment) {
        if (MINCORE == null) return -1;
        long pages = (segment.byteSize() + 4095) / 4096;
        long resident = 0;
        final long chunk = 1 << 20; // pages per call, so the vector stays small
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment vec = arena.allocate(chunk);
            for (long p = 0; p < pages; p += chunk) {
                long n = Math.min(chunk, pages - p);
                int rc = (int) MINCORE.invokeExact(segment.asSlice(p * 4096, Math.min(n * 4096, segment.byteSize() - p * 4096)), n * 4096, vec);
                if (rc != 0) return -1;
                for (long i = 0; i < n; i++) if ((vec.get(ValueLayout.JAVA_BYTE, i) & 1) != 0) resident++;
            }
        } catch (Throwable t) {
            return -1;
        }
        return resident * 4096;
    }

    private HostMemory() {}

    /** Reserves {@code size} bytes of zeroed memory, lazily backed where the host allows it. */
    public static MemorySegment reserve(long size) {
        if (MMAP != null && !System.getProperty("os.name", "").toLowerCase().contains("win")) {
            try {
                MemorySegment addr = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, size,
                        PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0L);
                if (addr.address() != -1L && addr.address() != 0L) {
                    return addr.reinterpret(size);
                }
            } catch (Throwable t) {
                // fall through to the eager allocation
            }
        }
        return Arena.ofAuto().allocate(size, 4096);
    }

    /**
     * Gives pages back to the host: their contents read as zero afterwards. Used by the balloon and
     * to drop RAM. Returns false when the host cannot release memory (the pages are zeroed instead).
     */
    public static boolean release(MemorySegment segment, long offset, long length) {
        if (MADVISE != null) {
            try {
                int rc = (int) MADVISE.invokeExact(segment.asSlice(offset, length), length, MADV_DONTNEED);
                if (rc == 0) return true;
            } catch (Throwable t) {
                // fall through
            }
        }
        segment.asSlice(offset, length).fill((byte) 0);
        return false;
    }
}
