package dev.visor.machine;

/**
 * A device register window on the MMIO bus. Offsets are relative to the window's base.
 * Sizes are 1, 2, 4 or 8 bytes; values are little-endian, zero-extended in the low bits.
 *
 * <p>Called from any vCPU thread: implementations guard their own state. A device never throws on
 * guest input: unknown registers read as zero and ignore writes.
 */
public interface MmioDevice {
    long read(long offset, int size);

    void write(long offset, int size, long value);
}
