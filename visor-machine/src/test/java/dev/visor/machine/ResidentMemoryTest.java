package dev.visor.machine;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Guest RAM costs host memory only where the guest wrote, and released pages really go back. */
class ResidentMemoryTest {
    @Test
    void touchedPagesAreResidentAndReleasedOnesAreNot() {
        GuestMemory m = new GuestMemory(0x8000_0000L, 64L << 20);
        assumeTrue(m.residentBytes() >= 0, "mincore is not available on this host");
        assertEquals(0, m.residentBytes());
        for (long a = 0; a < (16L << 20); a += 4096) m.writeByte(0x8000_0000L + a, (byte) 1);
        assertEquals(16L << 20, m.residentBytes());
        m.release(0x8000_0000L, 8L << 20);
        assertEquals(8L << 20, m.residentBytes());
        assertEquals(0, m.readByte(0x8000_0000L), "a released page reads as zero");
        assertEquals(1, m.readByte(0x8000_0000L + (8L << 20)));
    }
}
