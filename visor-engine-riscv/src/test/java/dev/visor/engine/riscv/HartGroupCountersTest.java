package dev.visor.engine.riscv;

import org.junit.jupiter.api.Test;

import static dev.visor.engine.riscv.Asm.S1;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The monitoring counters a VMM reads from another thread: instructions retired and vCPU time. */
class HartGroupCountersTest {
    @Test
    void instructionsAreSummedOverHarts() {
        TestMachine t = new TestMachine(2, 1 << 20);
        t.group.hart(0).instret = 5;
        t.group.hart(1).instret = 7;
        assertEquals(12, t.group.instructionsRetired());
        assertEquals(0, t.group.cpuTimeNanos(), "no hart thread before start");
    }

    @Test
    void runningHartsRetireInstructionsAndUseCpuTime() throws InterruptedException {
        TestMachine t = TestMachine.program(a -> a.label("loop").addi(S1, S1, 1).j("loop"));
        t.group.start();
        try {
            long end = System.nanoTime() + 10_000_000_000L;
            while ((t.group.instructionsRetired() < 1_000_000 || t.group.cpuTimeNanos() < 1_000_000) && System.nanoTime() < end) {
                Thread.sleep(10);
            }
            assertTrue(t.group.instructionsRetired() >= 1_000_000, "instret " + t.group.instructionsRetired());
            assertTrue(t.group.cpuTimeNanos() >= 1_000_000, "cpu ns " + t.group.cpuTimeNanos());
        } finally {
            t.group.stop();
        }
    }
}
