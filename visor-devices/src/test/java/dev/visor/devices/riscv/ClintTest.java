package dev.visor.devices.riscv;

import dev.visor.machine.Clock;
import dev.visor.machine.InterruptPins;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class ClintTest {
    private final Clock clock = new Clock(10_000_000L);
    private final RecordingPins hart0 = new RecordingPins();
    private final RecordingPins hart1 = new RecordingPins();
    private final Clint clint = new Clint(clock, new InterruptPins[] {hart0, hart1});

    @Test
    void msipReachesPin() {
        clint.write(4, 4, 1); // hart 1
        assertTrue(hart1.pending[3]);
        assertFalse(hart0.pending[3]);
        assertEquals(1, clint.read(4, 4));
        assertEquals(0, clint.read(0, 4));
        clint.write(4, 4, 0xFFFFFFFEL); // bit 0 clear
        assertFalse(hart1.pending[3]);
        assertEquals(0, clint.read(4, 4));
        clint.write(8, 4, 1); // no hart 2: ignored
        assertEquals(0, clint.read(8, 4));
    }

    @Test
    void mtimecmpResetAndWrites() {
        assertEquals(-1L, clint.read(0x4000, 8), "reset: all ones");
        assertEquals(0xFFFFFFFFL, clint.read(0x4004, 4));
        assertTrue(hart0.calls.isEmpty(), "nothing driven at construction");

        clint.write(0x4008, 8, 123_456_789L);
        assertEquals(123_456_789L, hart1.timerCompare);
        assertEquals(123_456_789L, clint.read(0x4008, 8));
        assertEquals(Long.MIN_VALUE, hart0.timerCompare, "hart 0 untouched");

        // 32-bit halves, as RV32 code does: high then low; every write reaches the pin.
        clint.write(0x4004, 4, 0x1);
        assertEquals(0x1_FFFF_FFFFL, hart0.timerCompare);
        clint.write(0x4000, 4, 0x2);
        assertEquals(0x1_0000_0002L, hart0.timerCompare);
        assertEquals(0x1_0000_0002L, clint.read(0x4000, 8));
        assertEquals(0x2, clint.read(0x4000, 4));
        assertEquals(0x1, clint.read(0x4004, 4));

        // All ones (OpenSBI's "disarmed") must not look like a negative, already-passed compare.
        clint.write(0x4000, 8, -1L);
        assertEquals(Long.MAX_VALUE, hart0.timerCompare);
        assertEquals(-1L, clint.read(0x4000, 8));
    }

    @Test
    void mtimeAdvances() throws InterruptedException {
        long a = clint.read(0xBFF8, 8);
        Thread.sleep(5);
        long b = clint.read(0xBFF8, 8);
        assertTrue(b - a >= 40_000, "5 ms is at least 50000 ticks at 10 MHz (some slack): " + (b - a));
        long lo = clint.read(0xBFF8, 4), hi = clint.read(0xBFFC, 4);
        assertTrue(lo >= 0 && lo <= 0xFFFFFFFFL);
        assertEquals(0, hi, "a fresh clock is far from 2^32 ticks");
        clint.write(0xBFF8, 8, 0); // ignored
        assertTrue(clint.read(0xBFF8, 8) >= b);
    }

    @Test
    void resetDrivesEverything() {
        clint.write(0, 4, 1);
        clint.write(0x4000, 8, 5);
        clint.reset();
        assertFalse(hart0.pending[3]);
        assertEquals(Long.MAX_VALUE, hart0.timerCompare);
        assertEquals(Long.MAX_VALUE, hart1.timerCompare);
        assertEquals(-1L, clint.read(0x4000, 8));
    }

    @Test
    void oddAccessesAreHarmless() {
        assertEquals(0, clint.read(0x3000, 4));
        assertEquals(0, clint.read(0x4002, 2));
        clint.write(0x4002, 2, 7);
        assertEquals(-1L, clint.read(0x4000, 8));
        assertEquals(0, clint.read(0xFFFF, 1));
    }
}
