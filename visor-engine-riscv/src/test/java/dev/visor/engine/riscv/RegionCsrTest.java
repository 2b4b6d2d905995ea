package dev.visor.engine.riscv;

import org.junit.jupiter.api.Test;

import java.lang.reflect.Method;

import static dev.visor.engine.riscv.Asm.*;
import static dev.visor.engine.riscv.TestMachine.BASE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CSR instructions translated regions do themselves (Linux's irq save/restore, trap entry's
 * scratch and cause registers): they run inside the region, and an enable that lets a pending
 * interrupt in ends the region right after it, so the run loop takes the interrupt at the next
 * instruction exactly as it would after the interpreter's csrs.
 */
class RegionCsrTest {
    static final long CODE = BASE + 0x100;
    static final long SSIP = 1L << Csr.SSI;

    final TestMachine m = TestMachine.program(a -> {
        a.spin();
        while (a.here() < CODE) a.addi(ZERO, ZERO, 0);
        a.addi(A0, A0, 1);
        a.csrrsi(T0, Csr.SSTATUS, 2);      // local_irq_enable: may let an interrupt in
        a.addi(A1, A1, 1);
        a.csrrci(T1, Csr.SSTATUS, 2);      // local_irq_save
        a.csrrw(T2, Csr.SSCRATCH, A0);
        a.addi(A2, A2, 1);
        a.jalr(ZERO, RA, 0);
    });
    final Hart h = m.hart;

    Block region() {
        Block b = BlockTranslator.translate(m.memory.segment(), 4L << 20, BASE, CODE - BASE, true);
        assertEquals(7, b.count, "the CSR instructions are inside the region, not stops");
        return b;
    }

    void supervisorWithSoftwareInterrupt(boolean pending) {
        h.priv = Hart.PRIV_S;
        h.mstatus &= ~Csr.SIE_BIT;
        h.updateContext();
        h.mideleg = SSIP;
        h.mie = SSIP;
        h.stvec = BASE + 0x800;
        h.mipSoftware = pending ? SSIP : 0;
        h.x[RA] = BASE + 0x40;
    }

    @Test
    void withNothingPendingTheRegionRunsThrough() {
        supervisorWithSoftwareInterrupt(false);
        h.blockExecuted = 0;
        long pc = region().run(h, h.x, CODE);
        assertEquals(BASE + 0x40, pc);
        assertEquals(7, h.blockExecuted);
        assertEquals(1, h.x[A0]);
        assertEquals(1, h.x[A2]);
        assertEquals(0, h.x[T0] & Csr.SIE_BIT, "csrrsi read the old sstatus");
        assertEquals(Csr.SIE_BIT, h.x[T1] & Csr.SIE_BIT, "csrrci read the enabled sstatus");
        assertEquals(0, h.mstatus & Csr.SIE_BIT);
        assertEquals(1, h.sscratch);
        assertFalse(h.sliceEnd);
    }

    @Test
    void anEnableThatLetsAnInterruptInEndsTheRegionAfterIt() throws Exception {
        supervisorWithSoftwareInterrupt(true);
        h.blockExecuted = 0;
        long pc = region().run(h, h.x, CODE);
        assertEquals(CODE + 8, pc, "the region left right after csrrsi");
        assertEquals(2, h.blockExecuted);
        assertEquals(1, h.x[A0]);
        assertEquals(0, h.x[A1], "nothing after csrrsi ran");
        assertTrue(h.sliceEnd, "the dispatcher is told to return to the run loop");
        assertEquals(Csr.SIE_BIT, h.mstatus & Csr.SIE_BIT);
        // what the run loop does next: take the interrupt at the instruction after csrrsi
        h.pc = pc;
        Method check = Hart.class.getDeclaredMethod("checkInterrupts");
        check.setAccessible(true);
        assertTrue((boolean) check.invoke(h));
        assertEquals(1L << 63 | Csr.SSI, h.scause);
        assertEquals(CODE + 8, h.sepc);
    }

    @Test
    void theInterpreterAgrees() {
        supervisorWithSoftwareInterrupt(true);
        h.pc = CODE;
        h.execute(100); // returns after csrrsi, as the enable asks the run loop to look at interrupts
        assertEquals(CODE + 8, h.pc);
        assertEquals(0, h.x[A1]);
        assertFalse(h.sliceEnd);

        supervisorWithSoftwareInterrupt(false);
        h.pc = CODE;
        h.x[A0] = 0;
        h.execute(7); // nothing pending: the CSR writes do not cut the slice short
        assertEquals(BASE + 0x40, h.pc);
        assertEquals(1, h.sscratch);
    }
}
