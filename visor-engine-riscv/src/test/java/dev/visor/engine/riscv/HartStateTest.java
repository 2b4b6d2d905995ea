package dev.visor.engine.riscv;

import dev.visor.machine.Clock;
import dev.visor.machine.GuestMemory;
import dev.visor.machine.MmioBus;
import dev.visor.machine.state.StateException;
import dev.visor.machine.state.StateRoundTrip;
import dev.visor.machine.state.StateWriter;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** A hart's registers and CSRs through save and restore; the restored hart's TLBs start empty. */
class HartStateTest {
    static Hart hart(int id) {
        GuestMemory m = new GuestMemory(0x8000_0000L, 1 << 20);
        HartGroup g = new HartGroup(id + 1, m, new MmioBus(), new Clock(10_000_000L), new HartGroup.Listener() {
            @Override public void htifExit(int code) { }
            @Override public void engineFailure(int hart, Throwable error) { }
        });
        return g.hart(id);
    }

    @Test
    void roundTrip() throws StateException {
        Hart a = hart(1);
        for (int i = 1; i < 32; i++) { a.x[i] = i * 0x1111L; a.f[i] = ~i; }
        a.pc = 0xffff_ffff_8000_1234L;
        a.priv = Hart.PRIV_S;
        a.mstatus |= Csr.SUM | Csr.FS | Csr.SPP;
        a.satp = (8L << 60) | 0x80123;
        a.stvec = 0xffff_ffff_8000_0000L;
        a.scause = 0x8000_0000_0000_0005L;
        a.mie = 0x222;
        a.mideleg = 0x222;
        a.medeleg = 0xb109;
        a.mipSoftware = 2;
        a.mtimecmp = 99_999;
        a.instret = 123_456_789;
        a.fcsr.frm = 2;
        a.fcsr.fflags = 0x11;
        a.reservation = 0x40;
        a.reservationValue = 7;
        a.waitingForInterrupt = true;
        a.pmpaddr[0] = -1;
        a.pmpcfg[0] = 0x1f;
        a.updateContext();

        Hart b = hart(1);
        b.readTag[3] = 3; // a stale TLB entry: restore must drop it
        StateRoundTrip.copy(new HartState(a), new HartState(b));
        StateRoundTrip.assertSameState(new HartState(a), new HartState(b));
        assertEquals(a.pc, b.pc);
        assertEquals(-1L, b.readTag[3]);
        assertEquals(a.dataCtx, b.dataCtx, "the TLB context follows the restored privilege and SUM");
        assertEquals(a.x[31], b.x[31]);
        assertEquals(a.instret, b.instret);
    }

    @Test
    void refusesAnotherHartOrBadRegisters() {
        Hart a = hart(0), b = hart(1);
        assertThrows(StateException.class, () -> StateRoundTrip.copy(new HartState(a), new HartState(b)));
        StateWriter w = new StateWriter("hart0", 1);
        w.putLongs("x", new long[31]).putLongs("f", new long[32]);
        assertThrows(StateException.class, () -> new HartState(a).restoreState(w.record().reader()));
        StateWriter p = new StateWriter("hart0", 1);
        p.putLongs("x", new long[32]).putLongs("f", new long[32]).putInt("priv", 2);
        assertThrows(StateException.class, () -> new HartState(a).restoreState(p.record().reader()));
    }
}
