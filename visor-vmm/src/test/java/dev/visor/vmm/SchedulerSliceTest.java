package dev.visor.vmm;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** SchedulerSlice on a thread of the test JVM: the kernel reports the slice asked for, and the default again after. */
class SchedulerSliceTest {

    @Test
    void aThreadGetsTheShortSliceAndGivesItBack() throws Exception {
        long[] seen = new long[3];
        boolean[] taken = new boolean[2];
        Thread t = Thread.ofPlatform().start(() -> {
            seen[0] = SchedulerSlice.currentSliceNanos();
            taken[0] = SchedulerSlice.setForCurrentThread(SchedulerSlice.SHORT_NANOS);
            seen[1] = SchedulerSlice.currentSliceNanos();
            taken[1] = SchedulerSlice.setForCurrentThread(0);
            seen[2] = SchedulerSlice.currentSliceNanos();
        });
        t.join();
        // Linux 6.12 or later with the scheduler's debug fields in /proc; elsewhere there is nothing to see
        assumeTrue(taken[0] && seen[0] > 0 && seen[0] != SchedulerSlice.SHORT_NANOS, "no per-thread slices on this kernel");
        assertEquals(SchedulerSlice.SHORT_NANOS, seen[1]);
        assertEquals(true, taken[1]);
        assertEquals(seen[0], seen[2]);
        assertNotEquals(seen[1], seen[2]);
    }

    @Test
    void aVirtualThreadIsLeftAlone() throws Exception {
        boolean[] taken = {true};
        Thread.ofVirtual().start(() -> taken[0] = SchedulerSlice.setForCurrentThread(SchedulerSlice.SHORT_NANOS)).join();
        assertEquals(false, taken[0]);
    }
}
