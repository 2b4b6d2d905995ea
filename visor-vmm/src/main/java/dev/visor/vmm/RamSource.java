package dev.visor.vmm;

import dev.visor.machine.GuestMemory;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * Where a restored VM's RAM comes from. Guest RAM never travels in the device-state file: it comes
 * from another VM in this process (here), and later from a snapshot's RAM file or a migration stream.
 */
@FunctionalInterface
public interface RamSource {
    /** Fills {@code target} (zeroed, freshly reserved) with the saved RAM. */
    void copyTo(GuestMemory target) throws IOException;

    /**
     * The RAM of a paused VM in this process. Pages that are all zero are skipped, so pages the
     * source never touched stay unbacked in the copy too (reading them does not back them).
     */
    static RamSource of(GuestMemory source) {
        return target -> {
            if (source.size() != target.size() || source.base() != target.base()) {
                throw new IOException("the saved RAM is " + (source.size() >> 20) + " MiB at 0x" + Long.toHexString(source.base())
                        + ", the VM has " + (target.size() >> 20) + " MiB at 0x" + Long.toHexString(target.base()));
            }
            MemorySegment from = source.segment(), to = target.segment();
            MemorySegment zero = MemorySegment.ofArray(new byte[(int) GuestMemory.PAGE_SIZE]);
            // 64 pages per call: VM processes run without on-stack replacement (see ./visor), so a long
            // loop runs compiled only in a method that is called often
            long chunk = 64 * GuestMemory.PAGE_SIZE;
            for (long off = 0; off < source.size(); off += chunk) {
                copyNonZero(from, to, off, Math.min(source.size(), off + chunk), zero);
            }
        };
    }

    /** Copies the pages of [start, end) that are not all zeros. */
    private static void copyNonZero(MemorySegment from, MemorySegment to, long start, long end, MemorySegment zero) {
        for (long off = start; off < end; off += GuestMemory.PAGE_SIZE) {
            MemorySegment page = from.asSlice(off, GuestMemory.PAGE_SIZE);
            if (page.mismatch(zero) >= 0) MemorySegment.copy(page, 0, to, off, GuestMemory.PAGE_SIZE);
        }
    }
}
