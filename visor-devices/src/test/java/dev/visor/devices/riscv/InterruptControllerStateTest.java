package dev.visor.devices.riscv;

import dev.visor.machine.Clock;
import dev.visor.machine.InterruptPins;
import dev.visor.machine.state.StateException;
import dev.visor.machine.state.StateRoundTrip;
import dev.visor.machine.state.StateWriter;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** PLIC and CLINT through save and restore: registers, gateways, and the harts' inputs driven again. */
class InterruptControllerStateTest {
    @Test
    void plicRoundTrip() throws StateException {
        RecordingPins[] pins = {new RecordingPins(), new RecordingPins()};
        Plic a = new Plic(new InterruptPins[]{pins[0], pins[1]}, 64);
        a.write(4 * 5, 4, 3);                                  // priority of source 5
        a.write(4 * 40, 4, 6);                                 // priority of source 40
        a.write(Plic.ENABLE_BASE + Plic.ENABLE_STRIDE, 4, 1 << 5); // context 1 (hart 0 S) enables 5
        a.write(Plic.ENABLE_BASE + 2 * Plic.ENABLE_STRIDE + 4, 4, 1 << 8); // context 2 (hart 1 M) enables 40
        a.write(Plic.CONTEXT_BASE + 2 * Plic.CONTEXT_STRIDE, 4, 2);   // threshold of context 2
        a.line(5).set(true);
        a.line(40).set(true);
        assertEquals(40, a.read(Plic.CONTEXT_BASE + 2 * Plic.CONTEXT_STRIDE + 4, 4)); // claimed, in service

        RecordingPins[] pins2 = {new RecordingPins(), new RecordingPins()};
        Plic b = new Plic(new InterruptPins[]{pins2[0], pins2[1]}, 64);
        StateRoundTrip.copy(a, b);
        StateRoundTrip.assertSameState(a, b);
        assertTrue(pins2[0].pending[9], "hart 0's SEIP driven from the restored pending 5");
        assertEquals(false, pins2[1].pending[11], "40 is in service: no MEIP until completed");
        assertEquals(5, b.read(Plic.CONTEXT_BASE + Plic.CONTEXT_STRIDE + 4, 4));
        b.write(Plic.CONTEXT_BASE + 2 * Plic.CONTEXT_STRIDE + 4, 4, 40); // complete: still high, so pending again
        assertTrue(pins2[1].pending[11]);

        Plic small = new Plic(new InterruptPins[]{new RecordingPins(), new RecordingPins()}, 32);
        assertThrows(StateException.class, () -> StateRoundTrip.copy(a, small));
    }

    @Test
    void clintRoundTrip() throws StateException {
        Clock clock = new Clock(10_000_000L);
        RecordingPins p0 = new RecordingPins(), p1 = new RecordingPins();
        Clint a = new Clint(clock, new InterruptPins[]{p0, p1});
        a.write(Clint.MSIP_BASE + 4, 4, 1);
        a.write(Clint.MTIMECMP_BASE, 8, 123_456);
        RecordingPins q0 = new RecordingPins(), q1 = new RecordingPins();
        Clint b = new Clint(clock, new InterruptPins[]{q0, q1});
        StateRoundTrip.copy(a, b);
        StateRoundTrip.assertSameState(a, b);
        assertEquals(123_456, q0.timerCompare);
        assertEquals(Long.MAX_VALUE, q1.timerCompare, "an unset compare never fires");
        assertTrue(q1.pending[3]);
        assertEquals(1, b.read(Clint.MSIP_BASE + 4, 4));

        StateWriter w = new StateWriter("clint", 1);
        w.putLongs("mtimecmp", new long[3]);
        assertThrows(StateException.class, () -> b.restoreState(w.record().reader()), "saved for three harts");
    }
}
