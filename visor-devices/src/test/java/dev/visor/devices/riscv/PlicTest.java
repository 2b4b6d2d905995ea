package dev.visor.devices.riscv;

import dev.visor.machine.InterruptPins;
import dev.visor.machine.IrqLine;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class PlicTest {
    private final RecordingPins hart0 = new RecordingPins();
    private final RecordingPins hart1 = new RecordingPins();
    private final Plic plic = new Plic(new InterruptPins[] {hart0, hart1});

    private static final int MEIP = 11, SEIP = 9;

    private void priority(int src, int p) { plic.write(4L * src, 4, p); }
    private void enable(int ctx, int src, boolean on) {
        long off = 0x2000 + 0x80L * ctx + 4L * (src / 32);
        int v = (int) plic.read(off, 4);
        v = on ? v | (1 << (src % 32)) : v & ~(1 << (src % 32));
        plic.write(off, 4, v & 0xFFFFFFFFL);
    }
    private void threshold(int ctx, int t) { plic.write(0x200000 + 0x1000L * ctx, 4, t); }
    private int claim(int ctx) { return (int) plic.read(0x200004 + 0x1000L * ctx, 4); }
    private void complete(int ctx, int src) { plic.write(0x200004 + 0x1000L * ctx, 4, src); }
    private long pendingWord(int w) { return plic.read(0x1000 + 4L * w, 4); }

    @Test
    void claimAndComplete() {
        IrqLine uart = plic.line(10);
        priority(10, 1);
        enable(1, 10, true); // hart 0, S-mode
        assertFalse(hart0.pending[SEIP]);
        uart.set(true);
        assertTrue(hart0.pending[SEIP]);
        assertFalse(hart0.pending[MEIP], "M context not enabled");
        assertEquals(1L << 10, pendingWord(0));
        assertEquals(10, claim(1));
        assertFalse(hart0.pending[SEIP], "in service: not delivered again");
        assertEquals(0, pendingWord(0));
        assertEquals(0, claim(1), "nothing left to claim");
        uart.set(false);
        complete(1, 10);
        assertFalse(hart0.pending[SEIP], "line low at completion: stays quiet");
        assertEquals(0, claim(1));
    }

    @Test
    void levelReassertedAfterComplete() {
        IrqLine line = plic.line(5);
        priority(5, 3);
        enable(1, 5, true);
        line.set(true);
        assertEquals(5, claim(1));
        assertFalse(hart0.pending[SEIP]);
        complete(1, 5); // line still high
        assertTrue(hart0.pending[SEIP], "still asserted: pending again");
        assertEquals(1L << 5, pendingWord(0));
        assertEquals(5, claim(1));
        line.set(false);
        line.set(true); // toggling while in service is held back
        assertFalse(hart0.pending[SEIP]);
        complete(1, 5);
        assertTrue(hart0.pending[SEIP]);
        line.set(false);
        assertFalse(hart0.pending[SEIP], "dropping the line clears an unclaimed pending bit");
        assertEquals(0, claim(1));
    }

    @Test
    void priorityAndThreshold() {
        priority(3, 2);
        priority(7, 5);
        priority(8, 5);
        priority(9, 0); // priority 0 never interrupts
        for (int s : new int[] {3, 7, 8, 9}) {
            enable(0, s, true);
            plic.line(s).set(true);
        }
        assertTrue(hart0.pending[MEIP]);
        threshold(0, 5);
        assertFalse(hart0.pending[MEIP], "nothing above threshold 5");
        assertEquals(0, claim(0));
        threshold(0, 4);
        assertTrue(hart0.pending[MEIP]);
        assertEquals(7, claim(0), "highest priority, lowest id among ties");
        assertEquals(8, claim(0));
        assertEquals(0, claim(0), "source 3 below threshold 4");
        assertFalse(hart0.pending[MEIP]);
        threshold(0, 0);
        assertEquals(3, claim(0));
        assertEquals(0, claim(0), "priority 0 source never claimed");
        assertEquals(5, plic.read(4L * 7, 4));
        priority(7, 0xFF);
        assertEquals(7, plic.read(4L * 7, 4), "priority is 3 bits");
    }

    @Test
    void perContextEnables() {
        priority(1, 1);
        priority(40, 1);
        enable(0, 1, true); // hart 0 M
        enable(3, 40, true); // hart 1 S
        plic.line(1).set(true);
        assertTrue(hart0.pending[MEIP]);
        assertFalse(hart0.pending[SEIP]);
        assertFalse(hart1.pending[MEIP] || hart1.pending[SEIP]);
        plic.line(40).set(true);
        assertTrue(hart1.pending[SEIP]);
        assertFalse(hart1.pending[MEIP]);
        assertEquals(1L << 8, pendingWord(1));
        assertEquals(0, claim(2), "hart 1 M context has nothing enabled");
        assertEquals(40, claim(3));
        assertFalse(hart1.pending[SEIP]);
        assertTrue(hart0.pending[MEIP]);
        // Disabling lowers the pin without touching the pending bit.
        enable(0, 1, false);
        assertFalse(hart0.pending[MEIP]);
        assertEquals(1L << 1, pendingWord(0));
        // A claim by one context takes the source away from every other.
        enable(1, 1, true);
        enable(0, 1, true);
        assertTrue(hart0.pending[MEIP] && hart0.pending[SEIP]);
        assertEquals(1, claim(1));
        assertFalse(hart0.pending[MEIP] || hart0.pending[SEIP]);
    }

    @Test
    void reservedAndOutOfRange() {
        plic.write(0, 4, 7);
        assertEquals(0, plic.read(0, 4), "source 0 has no priority");
        plic.write(0x2000, 4, 0xFFFFFFFFL);
        assertEquals(0xFFFFFFFEL, plic.read(0x2000, 4), "source 0 cannot be enabled");
        plic.write(0x2000 + 8, 4, 0xFFFFFFFFL);
        assertEquals(0xFFFFFFFFL, plic.read(0x2000 + 8, 4), "sources 64..95 exist");
        assertEquals(0, plic.read(0x2000 + 12, 4), "no sources 96..127");
        assertEquals(0, plic.read(0x200000 + 0x1000L * 4, 4), "no context 4");
        plic.write(0x200004 + 0x1000L * 9, 4, 10); // ignored
        complete(0, 0);
        complete(0, 500);
        complete(0, 12); // not in service: ignored
        assertEquals(0, plic.read(1, 4), "misaligned");
        assertEquals(0, plic.read(4, 1), "byte access");
        assertThrows(IllegalArgumentException.class, () -> plic.line(0));
        assertThrows(IllegalArgumentException.class, () -> plic.line(96));
        assertEquals(2 * 2, plic.contexts());
        assertEquals(96, plic.sources());
    }

    @Test
    void pinsDrivenOnlyOnChange() {
        priority(2, 1);
        enable(1, 2, true);
        hart0.calls.clear();
        plic.line(2).set(true);
        plic.line(2).set(true);
        priority(2, 2);
        assertEquals(java.util.List.of("pending 9=true"), hart0.calls);
    }

    @Test
    void eightByteAccessSplits() {
        plic.write(0x2000, 8, 0x0000_0001_0000_0006L);
        assertEquals(0x6L, plic.read(0x2000, 4));
        assertEquals(0x1L, plic.read(0x2004, 4));
        assertEquals(0x0000_0001_0000_0006L, plic.read(0x2000, 8));
    }

    @Test
    void concurrentLinesAndClaims() throws Exception {
        for (int s = 1; s <= 8; s++) {
            priority(s, 1 + s % 7);
            enable(1, s, true);
        }
        Thread[] devices = new Thread[4];
        for (int t = 0; t < devices.length; t++) {
            int first = 1 + 2 * t;
            devices[t] = new Thread(() -> {
                for (int i = 0; i < 20_000; i++) {
                    plic.line(first + (i & 1)).set((i & 2) != 0);
                }
                plic.line(first).set(false);
                plic.line(first + 1).set(false);
            });
            devices[t].start();
        }
        boolean running = true;
        while (running) {
            running = false;
            for (Thread d : devices) running |= d.isAlive();
            int src = claim(1);
            if (src != 0) {
                assertTrue(src >= 1 && src <= 8);
                complete(1, src);
            }
        }
        for (Thread d : devices) d.join();
        int src;
        while ((src = claim(1)) != 0) complete(1, src); // lines all low now: nothing comes back
        assertEquals(0, pendingWord(0));
        assertFalse(hart0.pending[SEIP], "all lines low, all completed: pin low");
    }
}
