package dev.visor.engine.riscv;

import dev.visor.machine.state.StateException;
import dev.visor.machine.state.StateReader;
import dev.visor.machine.state.StateWriter;
import dev.visor.machine.state.Stateful;

/**
 * The saved state of one {@link Hart}: integer and FP registers, pc, privilege, every CSR the engine
 * keeps, the software-written and controller-driven mip bits, the timer compare, the retired
 * instruction count (which mcycle and minstret read), the LR/SC reservation and WFI.
 *
 * <p>Kept out of Hart so the interpreter's file stays about execution. Call only while the hart's
 * group is paused (or before it starts): the hart thread then waits in its pause point, and the
 * group's pause lock orders these field accesses with the hart's own. After a restore the TLBs and
 * translated blocks are dropped, since they describe the old address space.
 *
 * <p>time is not here: it is the {@link dev.visor.machine.Clock}'s, restored with it.
 */
public final class HartState implements Stateful {
    private final Hart h;

    public HartState(Hart hart) { this.h = hart; }

    @Override public String stateId() { return "hart" + h.id; }

    @Override
    public void saveState(StateWriter w) {
        w.putInt("id", h.id);
        w.putLongs("x", h.x);
        w.putLongs("f", h.f);
        w.putInt("frm", h.fcsr.frm);
        w.putInt("fflags", h.fcsr.fflags);
        w.putLong("pc", h.pc);
        w.putInt("priv", h.priv);
        w.putLong("mstatus", h.mstatus);
        w.putLong("medeleg", h.medeleg);
        w.putLong("mideleg", h.mideleg);
        w.putLong("mie", h.mie);
        w.putLong("mtvec", h.mtvec);
        w.putLong("mscratch", h.mscratch);
        w.putLong("mepc", h.mepc);
        w.putLong("mcause", h.mcause);
        w.putLong("mtval", h.mtval);
        w.putLong("mcounteren", h.mcounteren);
        w.putLong("menvcfg", h.menvcfg);
        w.putLong("mcountinhibit", h.mcountinhibit);
        w.putLong("stvec", h.stvec);
        w.putLong("sscratch", h.sscratch);
        w.putLong("sepc", h.sepc);
        w.putLong("scause", h.scause);
        w.putLong("stval", h.stval);
        w.putLong("scounteren", h.scounteren);
        w.putLong("senvcfg", h.senvcfg);
        w.putLong("satp", h.satp);
        w.putLongs("pmpcfg", h.pmpcfg);
        w.putLongs("pmpaddr", h.pmpaddr);
        w.putLong("mipSoftware", h.mipSoftware);
        w.putLong("mipHardware", h.mipHardware);
        w.putLong("mtimecmp", h.mtimecmp);
        w.putLong("instret", h.instret);
        w.putLong("reservation", h.reservation);
        w.putLong("reservationValue", h.reservationValue);
        w.putBool("wfi", h.waitingForInterrupt);
        if (h.id == 0) w.putLong("htifToHost", h.group.htifToHost); // the group's one setting rides with hart 0
    }

    @Override
    public void restoreState(StateReader r) throws StateException {
        int id = r.getInt("id", h.id);
        if (id != h.id) throw r.invalid("is hart " + id + ", restored into hart " + h.id);
        int priv = r.getInt("priv", Hart.PRIV_M);
        if (priv != Hart.PRIV_U && priv != Hart.PRIV_S && priv != Hart.PRIV_M) throw r.invalid("privilege " + priv + " does not exist");
        int frm = r.getInt("frm", 0), fflags = r.getInt("fflags", 0);
        if (frm < 0 || frm > 7 || fflags < 0 || fflags > 0x1f) throw r.invalid("fcsr out of range");
        long[] x = r.requireLongs("x", 32);
        long[] f = r.requireLongs("f", 32);
        long[] pmpcfg = r.getLongs("pmpcfg", new long[h.pmpcfg.length]);
        long[] pmpaddr = r.getLongs("pmpaddr", new long[h.pmpaddr.length]);
        if (pmpcfg.length != h.pmpcfg.length || pmpaddr.length != h.pmpaddr.length) throw r.invalid("PMP arrays of the wrong size");
        long reservation = r.getLong("reservation", -1);
        if (reservation != -1 && (reservation < 0 || reservation > h.ramSize - 8)) reservation = -1; // not in RAM: no reservation

        System.arraycopy(x, 0, h.x, 0, 32);
        h.x[0] = 0;
        System.arraycopy(f, 0, h.f, 0, 32);
        h.fcsr.frm = frm;
        h.fcsr.fflags = fflags;
        h.pc = r.getLong("pc", 0);
        h.priv = priv;
        // the same masks the CSR instructions apply, so a record cannot set bits the guest could not
        h.mstatus = (r.getLong("mstatus", Csr.XLEN_FIELDS) & Csr.MSTATUS_WRITABLE) | Csr.XLEN_FIELDS;
        h.medeleg = r.getLong("medeleg", 0) & Csr.MEDELEG_WRITABLE;
        h.mideleg = r.getLong("mideleg", 0) & Csr.S_INTERRUPTS;
        h.mie = r.getLong("mie", 0) & (Csr.S_INTERRUPTS | Csr.M_INTERRUPTS);
        h.mtvec = r.getLong("mtvec", 0);
        h.mscratch = r.getLong("mscratch", 0);
        h.mepc = r.getLong("mepc", 0);
        h.mcause = r.getLong("mcause", 0);
        h.mtval = r.getLong("mtval", 0);
        h.mcounteren = r.getLong("mcounteren", 0);
        h.menvcfg = r.getLong("menvcfg", 0);
        h.mcountinhibit = r.getLong("mcountinhibit", 0);
        h.stvec = r.getLong("stvec", 0);
        h.sscratch = r.getLong("sscratch", 0);
        h.sepc = r.getLong("sepc", 0);
        h.scause = r.getLong("scause", 0);
        h.stval = r.getLong("stval", 0);
        h.scounteren = r.getLong("scounteren", 0);
        h.senvcfg = r.getLong("senvcfg", 0);
        h.satp = r.getLong("satp", 0);
        System.arraycopy(pmpcfg, 0, h.pmpcfg, 0, pmpcfg.length);
        System.arraycopy(pmpaddr, 0, h.pmpaddr, 0, pmpaddr.length);
        h.mipSoftware = r.getLong("mipSoftware", 0) & Csr.MIP_WRITABLE;
        synchronized (h) {
            h.mipHardware = r.getLong("mipHardware", 0) & (Csr.S_INTERRUPTS | Csr.M_INTERRUPTS);
        }
        h.mtimecmp = r.getLong("mtimecmp", Long.MAX_VALUE);
        h.instret = r.getLong("instret", 0);
        h.reservation = reservation;
        h.reservationValue = r.getLong("reservationValue", 0);
        h.waitingForInterrupt = r.getBool("wfi", false);
        if (h.id == 0) h.group.htifToHost = r.getLong("htifToHost", -1);
        // what the hart cached about the old address space and code is void
        h.updateContext();
        h.flushTlb();
        h.blocks.clear();
        Block.codeChanged();
        h.kick();
    }
}
