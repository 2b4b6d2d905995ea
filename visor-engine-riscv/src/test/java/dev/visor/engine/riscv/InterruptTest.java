package dev.visor.engine.riscv;

import org.junit.jupiter.api.Test;

import java.lang.reflect.Method;

import static dev.visor.engine.riscv.Asm.*;
import static dev.visor.engine.riscv.TestMachine.BASE;
import static dev.visor.engine.riscv.TestMachine.DATA;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Interrupts: pending bits from setPending, the timer from setTimerCompare, priorities, global
 * enables per privilege, delegation and vectored trap vectors. The interrupt check the run loop does
 * between blocks is called directly here; the last tests run real hart threads.
 */
class InterruptTest {
    static final long INTERRUPT = 1L << 63;
    static final long MTVEC = BASE + 0x400, STVEC = BASE + 0x800;

    final TestMachine m = TestMachine.program(a -> a.spin());
    final Hart h = m.hart;

    /** Calls the run loop's private interrupt check; returns whether an enabled interrupt is pending. */
    boolean check() throws Exception {
        Method c = Hart.class.getDeclaredMethod("checkInterrupts");
        c.setAccessible(true);
        return (boolean) c.invoke(h);
    }

    void at(int priv, boolean mie, boolean sie) {
        h.priv = priv;
        h.mstatus = (h.mstatus & ~(Csr.MIE_BIT | Csr.SIE_BIT)) | (mie ? Csr.MIE_BIT : 0) | (sie ? Csr.SIE_BIT : 0);
        h.updateContext();
        h.pc = BASE;
        h.mtvec = MTVEC;
        h.stvec = STVEC;
    }

    @Test
    void timerInterruptTakenInMachineMode() throws Exception {
        at(Hart.PRIV_M, true, false);
        h.mie = 1L << Csr.MTI;
        h.setTimerCompare(0);           // deadline long past
        assertTrue((m.csr(Csr.MIP) & (1L << Csr.MTI)) != 0, "MTIP pending");
        assertTrue(check());
        assertEquals(INTERRUPT | Csr.MTI, h.mcause);
        assertEquals(BASE, h.mepc, "mepc = the interrupted instruction");
        assertEquals(MTVEC, h.pc);
        assertEquals(Hart.PRIV_M, h.priv);
        assertEquals(0, h.mstatus & Csr.MIE_BIT);
        assertTrue((h.mstatus & Csr.MPIE) != 0);
        assertEquals(0, h.mtval);
    }

    @Test
    void timerInTheFutureIsNotPending() throws Exception {
        at(Hart.PRIV_M, true, false);
        h.mie = 1L << Csr.MTI;
        h.setTimerCompare(m.clock.ticks() + 10_000_000_000L);
        assertEquals(0, m.csr(Csr.MIP) & (1L << Csr.MTI));
        assertFalse(check());
        assertEquals(BASE, h.pc);
    }

    @Test
    void vectoredMtvecJumpsToBasePlusFourTimesCause() throws Exception {
        at(Hart.PRIV_M, true, false);
        h.mtvec = MTVEC | 1;
        h.mie = 1L << Csr.MEI;
        h.setPending(Csr.MEI, true);
        assertTrue(check());
        assertEquals(MTVEC + 4 * Csr.MEI, h.pc);
        assertEquals(INTERRUPT | Csr.MEI, h.mcause);
    }

    @Test
    void machineInterruptsMaskedByMieOnlyInMachineMode() throws Exception {
        at(Hart.PRIV_M, false, false);
        h.mie = 1L << Csr.MSI;
        h.setPending(Csr.MSI, true);
        assertTrue(check(), "pending and enabled in mie: wakes WFI");
        assertEquals(BASE, h.pc, "but not taken with MIE = 0");
        at(Hart.PRIV_S, false, false);
        check();
        assertEquals(MTVEC, h.pc, "always taken from S-mode");
        assertEquals(Hart.PRIV_S, (h.mstatus >>> 11) & 3);
        at(Hart.PRIV_U, false, false);
        check();
        assertEquals(MTVEC, h.pc, "and from U-mode");
    }

    @Test
    void disabledInMieIsNeverTaken() throws Exception {
        at(Hart.PRIV_U, true, true);
        h.mie = 1L << Csr.MTI;
        h.setPending(Csr.MEI, true);
        assertFalse(check());
        assertEquals(BASE, h.pc);
    }

    @Test
    void priorityOrder() throws Exception {
        int[] order = {Csr.MEI, Csr.MSI, Csr.MTI, Csr.SEI, Csr.SSI, Csr.STI};
        at(Hart.PRIV_U, false, false);
        h.mie = Csr.M_INTERRUPTS | Csr.S_INTERRUPTS;
        h.setPending(Csr.MEI, true);
        h.setPending(Csr.MSI, true);
        h.setTimerCompare(0);
        h.mipSoftware = Csr.S_INTERRUPTS;
        for (int cause : order) {
            at(Hart.PRIV_U, false, false);
            assertTrue(check());
            assertEquals(INTERRUPT | cause, h.mcause);
            // clear the one just taken
            if (cause == Csr.MEI || cause == Csr.MSI) h.setPending(cause, false);
            else if (cause == Csr.MTI) h.setTimerCompare(-1);
            else h.mipSoftware &= ~(1L << cause);
        }
        at(Hart.PRIV_U, false, false);
        assertFalse(check());
    }

    @Test
    void delegatedInterruptsGoToSupervisor() throws Exception {
        h.mideleg = Csr.S_INTERRUPTS;
        h.mie = 1L << Csr.STI;
        h.mipSoftware = 1L << Csr.STI;       // M-mode software (e.g. SBI) raises STIP
        at(Hart.PRIV_S, false, true);
        h.stvec = STVEC | 1;
        assertTrue(check());
        assertEquals(Hart.PRIV_S, h.priv);
        assertEquals(INTERRUPT | Csr.STI, h.scause);
        assertEquals(BASE, h.sepc);
        assertEquals(STVEC + 4 * Csr.STI, h.pc, "vectored stvec");
        assertTrue((h.mstatus & Csr.SPP) != 0);
        assertTrue((h.mstatus & Csr.SPIE) != 0);
        assertEquals(0, h.mstatus & Csr.SIE_BIT);
        assertEquals(0, h.mcause);
    }

    @Test
    void delegatedInterruptsRespectSieOnlyInSupervisorMode() throws Exception {
        h.mideleg = Csr.S_INTERRUPTS;
        h.mie = 1L << Csr.SEI;
        h.setPending(Csr.SEI, true);         // from the PLIC
        at(Hart.PRIV_S, true, false);
        assertTrue(check());
        assertEquals(BASE, h.pc, "S-mode with SIE = 0: not taken");
        at(Hart.PRIV_U, false, false);
        check();
        assertEquals(STVEC, h.pc, "U-mode: always taken");
        assertEquals(INTERRUPT | Csr.SEI, h.scause);
        at(Hart.PRIV_M, true, true);
        check();
        assertEquals(BASE, h.pc, "never taken in M-mode");
    }

    @Test
    void machineLevelBeatsSupervisorLevelInSupervisorMode() throws Exception {
        h.mideleg = Csr.S_INTERRUPTS;
        h.mie = (1L << Csr.SSI) | (1L << Csr.MTI);
        h.mipSoftware = 1L << Csr.SSI;
        h.setTimerCompare(0);
        at(Hart.PRIV_S, false, true);
        check();
        assertEquals(MTVEC, h.pc);
        assertEquals(INTERRUPT | Csr.MTI, h.mcause);
    }

    @Test
    void supervisorExternalIsVisibleFromBothSources() throws Exception {
        h.mideleg = Csr.S_INTERRUPTS;
        h.setPending(Csr.SEI, true);
        assertEquals(1L << Csr.SEI, m.csr(Csr.SIP) & (1L << Csr.SEI));
        h.setPending(Csr.SEI, false);
        assertEquals(0, m.csr(Csr.SIP) & (1L << Csr.SEI));
        h.mipSoftware = 1L << Csr.SEI;
        assertEquals(1L << Csr.SEI, m.csr(Csr.MIP) & (1L << Csr.SEI));
    }

    // ---------------------------------------------------------------- on hart threads

    /** Handler: store mcause to DATA, then write exit code 0 to tohost (DATA + 0x100). */
    static void exitHandler(Asm a) {
        a.label("handler");
        a.csrr(T0, Csr.MCAUSE);
        a.li(T1, DATA);
        a.sd(T0, T1, 0);
        a.csrr(T0, Csr.MEPC);
        a.sd(T0, T1, 8);
        a.li(T0, 1);
        a.sd(T0, T1, 0x100);
        a.spin();
    }

    @Test
    void timerWakesWfiOnAHartThread() throws Exception {
        TestMachine t = TestMachine.program(a -> {
            a.la(T0, "handler");
            a.csrw(Csr.MTVEC, T0);
            a.li(T0, 1L << Csr.MTI);
            a.csrw(Csr.MIE, T0);
            a.csrsi(Csr.MSTATUS, 8);           // MIE
            a.label("wait").wfi();
            a.j("wait");
            exitHandler(a);
        });
        t.group.setHtifToHost(DATA + 0x100);
        t.hart.setTimerCompare(t.clock.ticks() + 200_000); // 20 ms from now
        long start = System.nanoTime();
        assertEquals(0, t.startAndAwaitExit(10_000));
        assertTrue(System.nanoTime() - start >= 15_000_000L, "the hart did not wait for its deadline");
        assertEquals(INTERRUPT | Csr.MTI, t.memory.readLong(DATA));
        long epc = t.memory.readLong(DATA + 8);
        assertTrue(epc == t.addressOf("wait") || epc == t.addressOf("wait") + 4, "mepc 0x" + Long.toHexString(epc));
    }

    @Test
    void externalInterruptReachesASpinningHart() throws Exception {
        TestMachine t = TestMachine.program(a -> {
            a.la(T0, "handler");
            a.csrw(Csr.MTVEC, T0);
            a.li(T0, 1L << Csr.MEI);
            a.csrw(Csr.MIE, T0);
            a.csrsi(Csr.MSTATUS, 8);
            a.li(S0, DATA + 0x200);
            a.li(T1, 1);
            a.sd(T1, S0, 0);                   // "I am ready"
            a.label("loop").addi(S1, S1, 1);
            a.j("loop");
            exitHandler(a);
        });
        t.group.setHtifToHost(DATA + 0x100);
        Thread raiser = Thread.ofPlatform().start(() -> {
            while (t.memory.readLong(DATA + 0x200) == 0) Thread.onSpinWait();
            t.hart.setPending(Csr.MEI, true);
        });
        assertEquals(0, t.startAndAwaitExit(10_000));
        raiser.join();
        assertEquals(INTERRUPT | Csr.MEI, t.memory.readLong(DATA));
        long epc = t.memory.readLong(DATA + 8);
        assertTrue(epc == t.addressOf("loop") || epc == t.addressOf("loop") + 4, "interrupted inside the loop");
    }

    @Test
    void pastDeadlineInterruptsImmediatelyInSupervisorMode() throws Exception {
        // M delegates nothing; S-mode code with interrupts "off" still gets the M timer
        TestMachine t = TestMachine.program(a -> {
            a.la(T0, "handler");
            a.csrw(Csr.MTVEC, T0);
            a.li(T0, 1L << Csr.MTI);
            a.csrw(Csr.MIE, T0);
            a.li(T0, 1L << 11);                // MPP = S, MPIE = 0
            a.csrs(Csr.MSTATUS, T0);
            a.la(T0, "s");
            a.csrw(Csr.MEPC, T0);
            a.mret();
            a.label("s").j("s");
            exitHandler(a);
        });
        t.group.setHtifToHost(DATA + 0x100);
        t.hart.setTimerCompare(0);
        assertEquals(0, t.startAndAwaitExit(10_000));
        assertEquals(INTERRUPT | Csr.MTI, t.memory.readLong(DATA));
        assertEquals(t.addressOf("s"), t.memory.readLong(DATA + 8));
        assertEquals(Hart.PRIV_S, (t.hart.mstatus >>> 11) & 3);
    }

    @Test
    void pauseAndResumeStopTheHartBetweenBlocks() throws Exception {
        TestMachine t = TestMachine.program(a -> {
            a.label("loop").addi(S1, S1, 1);
            a.j("loop");
        });
        t.group.start();
        try {
            Thread.sleep(20);
            t.group.pause();
            long n1 = t.hart.x[S1];
            Thread.sleep(20);
            assertEquals(n1, t.hart.x[S1], "paused harts do not run");
            t.group.resume();
            Thread.sleep(20);
        } finally {
            t.group.stop();
        }
        assertTrue(t.hart.x[S1] > 0);
        assertEquals(null, t.failure);
    }
}
