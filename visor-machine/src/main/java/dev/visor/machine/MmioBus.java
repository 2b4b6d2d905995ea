package dev.visor.machine;

import java.util.Arrays;

/**
 * Dispatches guest-physical accesses outside RAM to devices by address range.
 * Ranges are registered while the machine is built and never change afterwards, so lookups need no lock.
 */
public final class MmioBus {
    private long[] bases = new long[0];
    private long[] ends = new long[0];
    private MmioDevice[] devices = new MmioDevice[0];
    private String[] names = new String[0];

    /** Registers {@code device} at [base, base+size). Overlapping ranges are a wiring bug. */
    public synchronized void register(String name, long base, long size, MmioDevice device) {
        for (int i = 0; i < bases.length; i++) {
            if (base < ends[i] && bases[i] < base + size) {
                throw new IllegalStateException("MMIO range of " + name + " overlaps " + names[i]);
            }
        }
        int n = bases.length, at = 0;
        while (at < n && bases[at] < base) at++;
        bases = insert(bases, at, base);
        ends = insert(ends, at, base + size);
        devices = insert(devices, at, device);
        names = insert(names, at, name);
    }

    private static long[] insert(long[] a, int at, long v) {
        long[] r = Arrays.copyOf(a, a.length + 1);
        System.arraycopy(a, at, r, at + 1, a.length - at);
        r[at] = v;
        return r;
    }

    private static <T> T[] insert(T[] a, int at, T v) {
        T[] r = Arrays.copyOf(a, a.length + 1);
        System.arraycopy(a, at, r, at + 1, a.length - at);
        r[at] = v;
        return r;
    }

    /** Index of the range holding {@code address}, or -1 if nothing is mapped there. */
    public int find(long address) {
        long[] b = bases;
        int lo = 0, hi = b.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (address < b[mid]) hi = mid - 1;
            else if (address >= ends[mid]) lo = mid + 1;
            else return mid;
        }
        return -1;
    }

    /** True when an access of {@code size} bytes at {@code address} hits one device window entirely. */
    public boolean isMapped(long address, int size) {
        int i = find(address);
        return i >= 0 && address + size <= ends[i];
    }

    /** Reads from the device at {@code address}; the caller checked {@link #isMapped}. */
    public long read(long address, int size) {
        int i = find(address);
        return devices[i].read(address - bases[i], size);
    }

    public void write(long address, int size, long value) {
        int i = find(address);
        devices[i].write(address - bases[i], size, value);
    }
}
