package dev.visor.engine.riscv;

import org.junit.jupiter.api.Test;

import java.util.function.Consumer;

import static dev.visor.engine.riscv.Asm.*;
import static dev.visor.engine.riscv.TestMachine.BASE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CSR instructions and the CSR file: access rules, WARL fields, views and counter gating. */
class CsrTest {

    /** Runs {@code body} then falls into "end"; an exception goes to "trap" (which records nothing itself). */
    private static TestMachine prog(int priv, Consumer<Asm> body) {
        TestMachine m = TestMachine.program(a -> {
            body.accept(a);
            a.label("end").spin();
            a.label("trap").spin();
        });
        m.mtvec("trap");
        return m.privilege(priv);
    }

    /** Runs to "end" or "trap"; returns true if it trapped. */
    private static boolean run(TestMachine m) {
        long end = m.addressOf("end"), trap = m.addressOf("trap");
        for (int n = 0; n < 10_000; n++) {
            if (m.hart.pc == end) return false;
            if (m.hart.pc == trap) return true;
            m.hart.execute(1);
        }
        throw new AssertionError("runaway program, pc=0x" + Long.toHexString(m.hart.pc));
    }

    private static void assertIllegal(TestMachine m, int insnIndex) {
        assertTrue(run(m), "expected an illegal-instruction trap");
        assertEquals(Trap.ILLEGAL, m.hart.mcause);
        long epc = m.hart.mepc;
        assertEquals(BASE + 4L * insnIndex, epc);
        assertEquals(m.memory.readInt(epc) & 0xffffffffL, m.hart.mtval, "mtval holds the instruction");
    }

    @Test
    void csrrsWithX0DoesNotWrite() {
        TestMachine m = prog(Hart.PRIV_M, a -> {
            a.csrrs(A0, Csr.MHARTID, ZERO);   // read-only CSR, no write: fine
            a.csrrc(A1, Csr.MVENDORID, ZERO);
            a.csrrsi(A2, Csr.MIMPID, 0);
            a.csrrci(A3, Csr.MARCHID, 0);
            a.csrrs(A4, Csr.CYCLE, ZERO);
        });
        assertTrue(!run(m), "no trap");
        assertEquals(0, m.x(A0));
    }

    @Test
    void clearingStipInMipDoesNotLatchTheExternalSeipLine() {
        // OpenSBI clears STIP with csrrc while the PLIC may be holding SEIP high; the write must not
        // turn the line's level into the software-latched SEIP bit, or SEIP stays pending forever.
        TestMachine m = prog(Hart.PRIV_M, a -> {
            a.li(T0, 1L << Csr.STI);
            a.csrrc(ZERO, Csr.MIP, T0);
        });
        m.hart.mipSoftware = 1L << Csr.STI;
        m.hart.setPending(Csr.SEI, true);
        assertTrue(!run(m), "no trap");
        m.hart.setPending(Csr.SEI, false);
        assertEquals(0, m.hart.mip() & ((1L << Csr.SEI) | (1L << Csr.STI)), "SEIP follows the line, STIP cleared");
    }

    @Test
    void writingAReadOnlyCsrIsIllegal() {
        assertIllegal(prog(Hart.PRIV_M, a -> a.csrrw(ZERO, Csr.MHARTID, ZERO)), 0);      // csrrw always writes
        assertIllegal(prog(Hart.PRIV_M, a -> { a.li(T0, 1); a.csrrs(A0, Csr.MVENDORID, T0); }), 1);
        assertIllegal(prog(Hart.PRIV_M, a -> a.csrrsi(A0, Csr.CYCLE, 1)), 0);
        assertIllegal(prog(Hart.PRIV_M, a -> a.csrrwi(A0, Csr.TIME, 0)), 0);
    }

    @Test
    void unknownCsrIsIllegal() {
        assertIllegal(prog(Hart.PRIV_M, a -> a.csrr(A0, 0x7c0)), 0);
        assertIllegal(prog(Hart.PRIV_M, a -> a.csrr(A0, Csr.PMPCFG0 + 1)), 0); // odd pmpcfg on RV64
    }

    @Test
    void lowerPrivilegeCannotReachHigherCsrs() {
        assertIllegal(prog(Hart.PRIV_S, a -> a.csrr(A0, Csr.MSTATUS)), 0);
        assertIllegal(prog(Hart.PRIV_S, a -> a.csrr(A0, Csr.MHARTID)), 0);
        assertIllegal(prog(Hart.PRIV_S, a -> a.csrw(Csr.MSCRATCH, A0)), 0);
        assertIllegal(prog(Hart.PRIV_U, a -> a.csrr(A0, Csr.SSTATUS)), 0);
        assertIllegal(prog(Hart.PRIV_U, a -> a.csrw(Csr.SSCRATCH, A0)), 0);
        // and S-mode may use its own
        TestMachine m = prog(Hart.PRIV_S, a -> {
            a.li(T0, 0x55);
            a.csrw(Csr.SSCRATCH, T0);
            a.csrr(A0, Csr.SSCRATCH);
        });
        assertTrue(!run(m));
        assertEquals(0x55, m.x(A0));
    }

    @Test
    void mstatusMppIsWarl() {
        TestMachine m = prog(Hart.PRIV_M, a -> {
            a.li(T0, 3L << 11);
            a.csrc(Csr.MSTATUS, T0);
            a.li(T0, 2L << 11);               // MPP = 2 is reserved (no H mode)
            a.csrs(Csr.MSTATUS, T0);
            a.csrr(A0, Csr.MSTATUS);
            a.li(T0, 1L << 11);
            a.csrs(Csr.MSTATUS, T0);          // MPP = S: legal (from whatever 2 became, set bit 11)
            a.csrr(A1, Csr.MSTATUS);
        });
        assertTrue(!run(m));
        long mpp = (m.x(A0) >>> 11) & 3;
        assertNotEquals(2, mpp, "MPP must not hold the reserved value 2");
        assertEquals(2L, (m.x(A0) >>> 32) & 3, "UXL = 64-bit");
        assertEquals(2L, (m.x(A0) >>> 34) & 3, "SXL = 64-bit");
        assertTrue(((m.x(A1) >>> 11) & 3) != 2);
    }

    @Test
    void misaDescribesRv64gc() {
        TestMachine m = prog(Hart.PRIV_M, a -> {
            a.csrr(A0, Csr.MISA);
            a.csrw(Csr.MISA, ZERO);           // WARL: writes ignored
            a.csrr(A1, Csr.MISA);
        });
        assertTrue(!run(m));
        long misa = m.x(A0);
        assertEquals(2, misa >>> 62, "MXL = 64");
        String letters = "";
        for (int b = 0; b < 26; b++) if ((misa >>> b & 1) != 0) letters += (char) ('A' + b);
        assertEquals("ACDFIMSU", letters);
        assertEquals(misa, m.x(A1));
    }

    @Test
    void sstatusIsAViewOfMstatus() {
        TestMachine m = prog(Hart.PRIV_M, a -> {
            a.li(T0, Csr.MIE_BIT | Csr.MPIE | (3L << 11));
            a.csrs(Csr.MSTATUS, T0);              // M-only bits set
            a.li(T0, Csr.SIE_BIT | Csr.SUM | Csr.SPP);
            a.csrs(Csr.SSTATUS, T0);              // S bits through sstatus
            a.csrr(A0, Csr.MSTATUS);
            a.csrr(A1, Csr.SSTATUS);
            a.li(T0, -1);
            a.csrc(Csr.SSTATUS, T0);              // clearing everything through sstatus
            a.csrr(A2, Csr.MSTATUS);
        });
        assertTrue(!run(m));
        long mstatus = m.x(A0), sstatus = m.x(A1), after = m.x(A2);
        assertTrue((mstatus & Csr.SIE_BIT) != 0 && (mstatus & Csr.SUM) != 0 && (mstatus & Csr.SPP) != 0, "sstatus writes land in mstatus");
        assertEquals(0, sstatus & (Csr.MIE_BIT | Csr.MPIE | Csr.MPP), "sstatus hides M fields");
        assertEquals(mstatus & (Csr.SIE_BIT | Csr.SUM | Csr.SPP), sstatus & (Csr.SIE_BIT | Csr.SUM | Csr.SPP));
        assertEquals(2L, (sstatus >>> 32) & 3, "UXL visible in sstatus");
        assertEquals(Csr.MIE_BIT | Csr.MPIE | (3L << 11), after & (Csr.MIE_BIT | Csr.MPIE | Csr.MPP), "M fields survive sstatus writes");
        assertEquals(0, after & (Csr.SIE_BIT | Csr.SUM | Csr.SPP));
        assertEquals(2L, (after >>> 32) & 3, "UXL is read-only");
    }

    @Test
    void sieAndSipAreMaskedByMideleg() {
        TestMachine m = prog(Hart.PRIV_M, a -> {
            a.li(T0, (1 << 1) | (1 << 5));        // delegate SSI and STI
            a.csrw(Csr.MIDELEG, T0);
            a.li(T0, -1);
            a.csrw(Csr.SIE, T0);
            a.csrr(A0, Csr.SIE);
            a.csrr(A1, Csr.MIE);
            a.li(T0, (1 << 1) | (1 << 5) | (1 << 9));
            a.csrw(Csr.MIP, T0);                  // M may raise S-level interrupts
            a.csrr(A2, Csr.SIP);
            a.csrw(Csr.SIP, ZERO);                // S may only clear SSIP
            a.csrr(A3, Csr.MIP);
            a.csrr(A4, Csr.MIDELEG);
        });
        assertTrue(!run(m));
        assertEquals((1 << 1) | (1 << 5), m.x(A0));
        assertEquals((1 << 1) | (1 << 5), m.x(A1), "sie writes only delegated bits");
        assertEquals((1 << 1) | (1 << 5), m.x(A2), "sip shows only delegated bits");
        assertEquals((1 << 5) | (1 << 9), m.x(A3), "sip write cleared SSIP only");
        assertEquals((1 << 1) | (1 << 5), m.x(A4));
    }

    @Test
    void epcAndTvecWarl() {
        TestMachine m = prog(Hart.PRIV_M, a -> {
            a.li(T0, 0x8000_1003L);
            a.csrw(Csr.MEPC, T0);
            a.csrr(A0, Csr.MEPC);
            a.csrw(Csr.SEPC, T0);
            a.csrr(A1, Csr.SEPC);
            a.li(T0, 0x8000_1002L);                // mode 2 is reserved
            a.csrw(Csr.MTVEC, T0);
            a.csrr(A2, Csr.MTVEC);
            a.li(T0, 0x8000_1001L);                // vectored
            a.csrw(Csr.STVEC, T0);
            a.csrr(A3, Csr.STVEC);
            a.li(T0, -1);
            a.csrw(Csr.MEDELEG, T0);
            a.csrr(A4, Csr.MEDELEG);
        });
        assertTrue(!run(m));
        assertEquals(0x8000_1002L, m.x(A0), "mepc[0] is zero with C");
        assertEquals(0x8000_1002L, m.x(A1));
        assertTrue((m.x(A2) & 3) != 2, "mtvec mode 2 is reserved");
        assertEquals(0x8000_1001L, m.x(A3));
        assertEquals(0, m.x(A4) & (1L << Trap.ECALL_M), "ecall from M cannot be delegated");
        assertTrue((m.x(A4) & (1L << Trap.ECALL_U)) != 0);
    }

    @Test
    void satpModeIsWarl() {
        TestMachine m = prog(Hart.PRIV_M, a -> {
            a.li(T0, (8L << 60) | 0x80100);
            a.csrw(Csr.SATP, T0);
            a.csrr(A0, Csr.SATP);
            a.li(T0, (10L << 60) | 0x80200);       // Sv57: not supported, satp keeps its value
            a.csrw(Csr.SATP, T0);
            a.csrr(A1, Csr.SATP);
            a.li(T0, (9L << 60) | 0x80300);
            a.csrw(Csr.SATP, T0);
            a.csrr(A2, Csr.SATP);
        });
        assertTrue(!run(m));
        assertEquals((8L << 60) | 0x80100, m.x(A0));
        assertEquals((8L << 60) | 0x80100, m.x(A1));
        assertEquals((9L << 60) | 0x80300, m.x(A2));
    }

    @Test
    void tvmTrapsSatpAndSfenceInSupervisorMode() {
        TestMachine m = prog(Hart.PRIV_S, a -> a.csrr(A0, Csr.SATP));
        m.hart.mstatus |= Csr.TVM;
        assertIllegal(m, 0);
        TestMachine n = prog(Hart.PRIV_S, a -> a.sfenceVma(0, 0));
        n.hart.mstatus |= Csr.TVM;
        assertIllegal(n, 0);
        TestMachine o = prog(Hart.PRIV_S, a -> { a.csrr(A0, Csr.SATP); a.sfenceVma(0, 0); });
        assertTrue(!run(o), "without TVM both are fine");
        TestMachine u = prog(Hart.PRIV_U, a -> a.sfenceVma(0, 0));
        assertIllegal(u, 0);
    }

    @Test
    void countersAreGatedByCounteren() {
        // U-mode: needs both mcounteren and scounteren
        assertIllegal(prog(Hart.PRIV_U, a -> a.csrr(A0, Csr.CYCLE)), 0);
        TestMachine m = prog(Hart.PRIV_U, a -> a.csrr(A0, Csr.CYCLE));
        m.hart.mcounteren = 1;
        assertIllegal(m, 0);
        m = prog(Hart.PRIV_U, a -> a.csrr(A0, Csr.TIME));
        m.hart.mcounteren = 7;
        m.hart.scounteren = 1;     // CY only: TM still denied
        assertIllegal(m, 0);
        m = prog(Hart.PRIV_U, a -> { a.csrr(A0, Csr.CYCLE); a.csrr(A1, Csr.TIME); a.csrr(A2, Csr.INSTRET); });
        m.hart.mcounteren = 7;
        m.hart.scounteren = 7;
        assertTrue(!run(m));
        // S-mode: only mcounteren
        assertIllegal(prog(Hart.PRIV_S, a -> a.csrr(A0, Csr.TIME)), 0);
        m = prog(Hart.PRIV_S, a -> a.csrr(A0, Csr.TIME));
        m.hart.mcounteren = 2;
        assertTrue(!run(m));
        assertIllegal(prog(Hart.PRIV_S, a -> a.csrr(A0, 0xc03)), 0); // hpmcounter3
        // M-mode: always
        m = prog(Hart.PRIV_M, a -> { a.csrr(A0, Csr.CYCLE); a.csrr(A1, Csr.TIME); a.csrr(A2, Csr.MINSTRET); });
        assertTrue(!run(m));
    }

    @Test
    void instretCountsRetiredInstructions() {
        TestMachine m = prog(Hart.PRIV_M, a -> {
            a.csrr(A0, Csr.MINSTRET);
            a.addi(0, 0, 0);
            a.addi(0, 0, 0);
            a.csrr(A1, Csr.MINSTRET);
        });
        assertTrue(!run(m));
        assertEquals(3, m.x(A1) - m.x(A0));
        // the same inside one block of the interpreter (not single-stepped)
        m.reset(BASE);
        m.hart.execute(Hart.BLOCK);
        assertEquals(m.addressOf("end"), m.hart.pc);
        assertEquals(3, m.x(A1) - m.x(A0), "minstret read in the middle of a block");
    }

    @Test
    void timeFollowsTheClock() throws Exception {
        TestMachine m = prog(Hart.PRIV_M, a -> a.csrr(A0, Csr.TIME));
        long before = m.clock.ticks();
        assertTrue(!run(m));
        long after = m.clock.ticks();
        assertTrue(m.x(A0) >= before && m.x(A0) <= after, "time " + m.x(A0) + " not in [" + before + ", " + after + "]");
    }

    @Test
    void floatingPointCsrsNeedFsAndDirtyIt() {
        assertIllegal(prog(Hart.PRIV_M, a -> a.csrr(A0, Csr.FCSR)), 0); // FS = Off at reset
        TestMachine m = prog(Hart.PRIV_M, a -> {
            a.li(T0, 1L << 13);                    // FS = Initial
            a.csrs(Csr.MSTATUS, T0);
            a.li(T0, 0xff);
            a.csrw(Csr.FCSR, T0);
            a.csrr(A0, Csr.FCSR);
            a.csrr(A1, Csr.FRM);
            a.csrr(A2, Csr.FFLAGS);
            a.csrr(A3, Csr.MSTATUS);
        });
        assertTrue(!run(m));
        assertEquals(0xff, m.x(A0));
        assertEquals(7, m.x(A1));
        assertEquals(0x1f, m.x(A2));
        assertEquals(Csr.FS, m.x(A3) & Csr.FS, "writing fcsr makes FS Dirty");
        assertTrue(m.x(A3) < 0, "SD summarises a dirty FS");
    }

    @Test
    void mhartidOfSecondHart() {
        TestMachine m = new TestMachine(2, 4L << 20);
        Asm a = new Asm(BASE);
        a.csrr(A0, Csr.MHARTID);
        a.spin();
        m.load(a).reset(BASE);
        Hart h1 = m.group.hart(1);
        h1.execute(1);
        assertEquals(1, h1.x[A0]);
    }
}
