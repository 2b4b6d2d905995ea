package dev.visor.machine;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Host memory for guest RAM, reserved with {@code mmap} so that pages the guest never touches cost
 * the host nothing (the kernel backs them on first write). Where {@code mmap} is not available
 * (a JVM on a non-POSIX host) it falls back to a zeroed Java allocation, which is correct but eager.
 */
public final class HostMemory {
    private static final int PROT_READ = 1, PROT_WRITE = 2;
    private static final int MAP_PRIVATE = 0x02, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20, MAP_NORESERVE = 0x4000;
    private static final int MADV_DONTNEED = 4;
    private static final int O_RDONLY = 0, O_CLOEXEC = 0x80000;
    private static final MethodHandle MMAP, MADVISE, MINCORE, OPEN, CLOSE;

    static {
        MethodHandle mmap = null, madvise = null, mincore = null, open = null, close = null;
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
            open = linker.downcallHandle(libc.find("open").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS, ValueLayout.JAVA_INT), Linker.Option.firstVariadicArg(2));
            close = linker.downcallHandle(libc.find("close").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
        } catch (Throwable t) {
            // not a POSIX libc: use the eager fallback
        }
        MMAP = mmap;
        MADVISE = madvise;
        MINCORE = mincore;
        OPEN = open;
        CLOSE = close;
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

    /**
     * Makes and calls each native stub once (mmap, madvise and mincore on one reserved page, open and
     * close of /dev/null): a cold JVM's first downcalls cost tens of milliseconds, which a process
     * about to restore a VM pays on a background thread ({@code ColdStart}) rather than in the restore.
     */
    public static void warmUp() {
        MemorySegment page = reserve(4096);
        residentBytes(page);
        release(page, 0, 4096);
        if (OPEN == null || CLOSE == null) return;
        try (Arena arena = Arena.ofConfined()) {
            int fd = (int) OPEN.invokeExact(arena.allocateFrom("/dev/null"), O_RDONLY | O_CLOEXEC);
            if (fd >= 0) {
                int ignored = (int) CLOSE.invokeExact(fd);
            }
        } catch (Throwable t) {
            // only a warm-up: the real calls report their own failures
        }
    }

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

    /**
     * Maps {@code size} bytes of {@code file} copy-on-write (mmap MAP_PRIVATE): reads see the file
     * through the page cache, shared with every other mapping of it; the first write to a page gives
     * this mapping a private copy, and the file never changes. So mapping costs the same whatever the
     * size, and VMs mapped from one file share the pages none of them wrote. Returns null where the
     * host has no mmap (the caller then reads the file into {@link #reserve reserved} memory).
     *
     * <p>The file must keep at least {@code size} bytes while mapped: a mapped page past its end
     * faults (SIGBUS), so callers check the size first and never truncate a file that may be mapped.
     */
    public static MemorySegment mapPrivate(Path file, long size) throws IOException {
        if (MMAP == null || OPEN == null || CLOSE == null) return null;
        long length = Files.size(file);
        if (length < size) throw new IOException(file + " has " + length + " bytes, " + size + " are needed");
        try (Arena arena = Arena.ofConfined()) {
            int fd = (int) OPEN.invokeExact(arena.allocateFrom(file.toString()), O_RDONLY | O_CLOEXEC);
            if (fd < 0) throw new IOException(file + ": cannot open for mapping");
            try {
                MemorySegment addr = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, size,
                        PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0L);
                if (addr.address() == -1L || addr.address() == 0L) throw new IOException(file + ": mmap failed");
                return addr.reinterpret(size);
            } finally {
                int ignored = (int) CLOSE.invokeExact(fd); // the mapping keeps the file open
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(file + ": cannot map: " + t, t);
        }
    }

    /**
     * Gives pages of a file mapping back: replaces them with fresh anonymous zero pages (mmap
     * MAP_FIXED), which drops both the private copies and the view of the file. (MADV_DONTNEED on a
     * private file mapping would bring the file's contents back rather than zeros.)
     */
    public static boolean releaseMapped(MemorySegment segment, long offset, long length) {
        if (MMAP != null) {
            try {
                MemorySegment at = segment.asSlice(offset, length);
                MemorySegment addr = (MemorySegment) MMAP.invokeExact(at, length, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0L);
                if (addr.address() == at.address()) return true;
            } catch (Throwable t) {
                // fall through
            }
        }
        segment.asSlice(offset, length).fill((byte) 0);
        return false;
    }

    /**
     * What a mapping costs the host, from /proc/self/smaps (Linux), summed over the areas inside
     * [segment, segment + size). {@code pss} divides each page by the number of mappings sharing it,
     * so the pss of several VMs restored from one snapshot adds up to the memory they really use;
     * {@code anonymous} counts the pages private to this mapping (written ones, or all of anonymous RAM).
     *
     * @return null where the host cannot tell
     */
    public static Usage usage(MemorySegment segment) {
        long start = segment.address(), end = start + segment.byteSize();
        Path smaps = Path.of("/proc/self/smaps");
        if (!Files.isReadable(smaps)) return null;
        long rss = 0, pss = 0, anon = 0, privateDirty = 0;
        boolean inside = false;
        try {
            for (String line : Files.readAllLines(smaps)) {
                int dash = line.indexOf('-');
                int space = line.indexOf(' ');
                if (dash > 0 && space > dash && isHex(line, 0, dash)) {
                    long from = Long.parseUnsignedLong(line.substring(0, dash), 16);
                    long to = Long.parseUnsignedLong(line.substring(dash + 1, space), 16);
                    inside = from >= start && to <= end;
                    continue;
                }
                if (!inside) continue;
                if (line.startsWith("Rss:")) rss += kib(line);
                else if (line.startsWith("Pss:")) pss += kib(line);
                else if (line.startsWith("Anonymous:")) anon += kib(line);
                else if (line.startsWith("Private_Dirty:")) privateDirty += kib(line);
            }
        } catch (IOException | RuntimeException e) {
            return null;
        }
        return new Usage(rss, pss, anon, privateDirty);
    }

    /** Bytes of a mapping: resident, proportional share, private anonymous, private dirty. */
    public record Usage(long rss, long pss, long anonymous, long privateDirty) {
        @Override public String toString() {
            return "rss " + (rss >> 20) + " MiB, pss " + (pss >> 20) + " MiB, anonymous " + (anonymous >> 20) + " MiB";
        }
    }

    private static boolean isHex(String s, int from, int to) {
        for (int i = from; i < to; i++) if (Character.digit(s.charAt(i), 16) < 0) return false;
        return to > from;
    }

    /** "Rss:     1234 kB" in bytes. */
    private static long kib(String line) {
        String[] w = line.trim().split("\\s+");
        return Long.parseLong(w[1]) * 1024;
    }
}
