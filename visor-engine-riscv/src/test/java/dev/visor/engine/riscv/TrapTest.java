package dev.visor.engine.riscv;

import org.junit.jupiter.api.Test;

import java.util.function.Consumer;

import static dev.visor.engine.riscv.Asm.*;
import static dev.visor.engine.riscv.TestMachine.BASE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Synchronous traps: causes, epc/tval, delegation to S-mode, and the trap returns. */
class TrapTest {

    /**
     * M-mode code that drops to {@code priv} at label "lower" through mret (with MPIE set), then runs
     * {@code lower}. mtvec = "mtrap", stvec = "strap"; both just spin.
     */
    private static TestMachine dropTo(int priv, long medeleg, Consumer<Asm> lower) {
        TestMachine n = TestMachine.program(a -> {
            a.li(T0, 3L << 11);
            a.csrc(Csr.MSTATUS, T0);
            a.li(T0, ((long) priv << 11) | Csr.MPIE);
            a.csrs(Csr.MSTATUS, T0);
            a.li(T0, medeleg);
            a.csrw(Csr.MEDELEG, T0);
            a.la(T0, "lower");
            a.csrw(Csr.MEPC, T0);
            a.mret();
            a.label("lower");
            lower.accept(a);
            a.label("end").spin();
            a.label("mtrap").spin();
            a.label("strap").spin();
        });
        n.mtvec("mtrap");
        n.hart.stvec = n.addressOf("strap");
        return n;
    }

    @Test
    void ecallFromEachPrivilege() {
        for (int priv : new int[] {Hart.PRIV_U, Hart.PRIV_S, Hart.PRIV_M}) {
            TestMachine m = dropTo(priv, 0, a -> a.ecall());
            m.runTo("mtrap");
            assertEquals(Trap.ECALL_U + priv, m.hart.mcause, "priv " + priv);
            assertEquals(m.addressOf("lower"), m.hart.mepc);
            assertEquals(0, m.hart.mtval);
            assertEquals(Hart.PRIV_M, m.hart.priv);
            long s = m.hart.mstatus;
            assertEquals(priv, (s >>> 11) & 3, "MPP holds the trapped privilege");
            assertEquals(0, s & Csr.MIE_BIT);
        }
    }

    @Test
    void mretRestoresPrivilegeAndInterruptEnable() {
        TestMachine m = dropTo(Hart.PRIV_S, 0, a -> a.csrr(A0, Csr.SSTATUS));
        m.runTo("end");
        assertEquals(Hart.PRIV_S, m.hart.priv);
        long s = m.hart.mstatus;
        assertTrue((s & Csr.MIE_BIT) != 0, "MIE = old MPIE");
        assertTrue((s & Csr.MPIE) != 0, "MPIE set by mret");
        assertEquals(Hart.PRIV_U, (s >>> 11) & 3, "MPP = U after mret");
    }

    @Test
    void mretToLowerPrivilegeClearsMprv() {
        TestMachine m = dropTo(Hart.PRIV_U, 0, a -> { });
        m.hart.mstatus |= Csr.MPRV;
        m.runTo("end");
        assertEquals(Hart.PRIV_U, m.hart.priv);
        assertEquals(0, m.hart.mstatus & Csr.MPRV);
    }

    @Test
    void delegatedEcallGoesToSupervisor() {
        long deleg = (1L << Trap.ECALL_U) | (1L << Trap.ILLEGAL);
        TestMachine m = dropTo(Hart.PRIV_U, deleg, a -> a.ecall());
        m.hart.mstatus |= Csr.SIE_BIT;
        m.runTo("strap");
        assertEquals(Hart.PRIV_S, m.hart.priv);
        assertEquals(Trap.ECALL_U, m.hart.scause);
        assertEquals(m.addressOf("lower"), m.hart.sepc);
        assertEquals(0, m.hart.stval);
        long s = m.hart.mstatus;
        assertEquals(0, s & Csr.SPP, "SPP = U");
        assertTrue((s & Csr.SPIE) != 0, "SPIE = old SIE");
        assertEquals(0, s & Csr.SIE_BIT);
        assertEquals(0, m.hart.mcause, "M-mode never saw it");
    }

    @Test
    void delegatedTrapFromSupervisorSetsSpp() {
        TestMachine m = dropTo(Hart.PRIV_S, 1L << Trap.ILLEGAL, a -> a.word(0xffffffff));
        m.runTo("strap");
        assertEquals(Trap.ILLEGAL, m.hart.scause);
        assertEquals(0xffffffffL, m.hart.stval);
        assertTrue((m.hart.mstatus & Csr.SPP) != 0, "SPP = S");
    }

    @Test
    void ecallFromSupervisorIsNotDelegatedWithoutItsBit() {
        TestMachine m = dropTo(Hart.PRIV_S, 1L << Trap.ECALL_U, a -> a.ecall());
        m.runTo("mtrap");
        assertEquals(Trap.ECALL_S, m.hart.mcause);
    }

    @Test
    void machineModeTrapsAreNeverDelegated() {
        TestMachine m = dropTo(Hart.PRIV_M, -1L, a -> a.word(0));
        m.runTo("mtrap");
        assertEquals(Trap.ILLEGAL, m.hart.mcause);
        assertEquals(0, m.hart.mtval);
    }

    @Test
    void sretRestoresPrivilegeAndSie() {
        // S-mode handler returns to U-mode code with sret
        TestMachine m = TestMachine.program(a -> {
            a.li(T0, Csr.SPIE);
            a.csrs(Csr.MSTATUS, T0);
            a.li(T0, Csr.SPP);
            a.csrc(Csr.MSTATUS, T0);
            a.li(T0, BASE + 0x100);
            a.csrw(Csr.SEPC, T0);
            a.sret();                      // from M-mode: allowed, goes to U
        });
        Asm u = new Asm(BASE + 0x100);
        u.csrr(A0, Csr.CYCLE);             // U-mode: illegal (counters not enabled) -> M
        u.label("after").spin();
        m.load(u);
        m.hart.mtvec = BASE + 0x200;
        m.runUntil(BASE + 0x200, 100);
        assertEquals(Hart.PRIV_M, m.hart.priv);
        assertEquals(Hart.PRIV_U, (m.hart.mstatus >>> 11) & 3, "the trap came from U");
        assertEquals(BASE + 0x100, m.hart.mepc);
        assertTrue((m.hart.mstatus & Csr.SIE_BIT) != 0, "SIE = old SPIE");
        assertTrue((m.hart.mstatus & Csr.SPIE) != 0, "SPIE set by sret");
    }

    @Test
    void privilegedInstructionsAreIllegalBelowTheirLevel() {
        int[] insns = {0x30200073 /* mret */, 0x10200073 /* sret */, 0x10500073 /* wfi */};
        for (int insn : insns) {
            TestMachine m = dropTo(Hart.PRIV_U, 0, a -> a.word(insn));
            m.runTo("mtrap");
            assertEquals(Trap.ILLEGAL, m.hart.mcause, String.format("0x%08x in U", insn));
            assertEquals(insn & 0xffffffffL, m.hart.mtval);
        }
        TestMachine m = dropTo(Hart.PRIV_S, 0, a -> a.mret());
        m.runTo("mtrap");
        assertEquals(Trap.ILLEGAL, m.hart.mcause, "mret in S");
        m = dropTo(Hart.PRIV_S, 0, a -> a.sret());
        m.hart.mstatus |= Csr.TSR;
        m.runTo("mtrap");
        assertEquals(Trap.ILLEGAL, m.hart.mcause, "sret in S with TSR");
        m = dropTo(Hart.PRIV_S, 0, a -> a.wfi());
        m.hart.mstatus |= Csr.TW;
        m.runTo("mtrap");
        assertEquals(Trap.ILLEGAL, m.hart.mcause, "wfi in S with TW");
    }

    @Test
    void wfiInMachineModeWaits() {
        TestMachine m = TestMachine.program(a -> {
            a.wfi();
            a.label("end").spin();
        });
        m.hart.execute(100);
        assertTrue(m.hart.waitingForInterrupt);
        assertEquals(m.addressOf("end"), m.hart.pc, "wfi retires; the hart resumes after it");
    }

    @Test
    void ebreakAndIllegalOpcodes() {
        TestMachine m = dropTo(Hart.PRIV_M, 0, a -> a.ebreak());
        m.runTo("mtrap");
        assertEquals(Trap.BREAKPOINT, m.hart.mcause);
        assertEquals(m.addressOf("lower"), m.hart.mepc);

        int[] illegal = {
                0xffffffff,             // all ones
                0x0000007f,             // 64-bit+ encodings
                Asm.r(0x01, 0, 0, 0, 0, 0x2f) | (0x1f << 27), // unknown AMO funct5
                Asm.i(0, 0, 2, 10, 0x67), // jalr with funct3 != 0
                Asm.i(0, 0, 7, 10, 0x03), // load funct3 7
                Asm.s(0, 0, 0, 4, 0x23),  // store funct3 4
                Asm.r(0x02, 1, 1, 0, 10, 0x33), // OP with funct7 2
                Asm.r(0x20, 1, 1, 1, 10, 0x3b), // OP-32 funct7 0x20 funct3 1
                0x00000073 | (1 << 20) | (1 << 7), // ebreak with rd != 0
                0x0000400f,             // MISC-MEM funct3 4
        };
        for (int insn : illegal) {
            TestMachine t = dropTo(Hart.PRIV_M, 0, a -> a.word(insn));
            t.runTo("mtrap");
            assertEquals(Trap.ILLEGAL, t.hart.mcause, String.format("0x%08x", insn));
            assertEquals(insn & 0xffffffffL, t.hart.mtval, String.format("0x%08x", insn));
        }
    }

    @Test
    void fpInstructionsAreIllegalWhileFsIsOff() {
        TestMachine m = dropTo(Hart.PRIV_M, 0, a -> a.word(0x00053007)); // fld f0,0(a0)
        m.runTo("mtrap");
        assertEquals(Trap.ILLEGAL, m.hart.mcause);
    }

    @Test
    void trapReentersAtTheHandlerEachTime() {
        // a handler that skips the faulting instruction and counts: three illegal instructions in a row
        TestMachine m = TestMachine.program(a -> {
            a.label("start");
            a.word(0);
            a.word(0);
            a.word(0);
            a.label("end").spin();
            a.label("handler");
            a.addi(S1, S1, 1);
            a.csrr(T0, Csr.MEPC);
            a.addi(T0, T0, 4);
            a.csrw(Csr.MEPC, T0);
            a.mret();
        });
        m.mtvec("handler");
        m.runTo("end");
        assertEquals(3, m.x(S1));
        assertEquals(Hart.PRIV_M, m.hart.priv);
    }

    @Test
    void exceptionsIgnoreVectoredMode() {
        TestMachine m = TestMachine.program(a -> {
            a.ecall();
            a.spin();
        });
        m.hart.mtvec = BASE + 0x101;   // vectored; base 0x100
        m.runUntil(BASE + 0x100, 10);
        assertEquals(Trap.ECALL_M, m.hart.mcause);
    }
}
