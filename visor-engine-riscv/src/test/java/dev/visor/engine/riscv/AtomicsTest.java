package dev.visor.engine.riscv;

import org.junit.jupiter.api.Test;

import static dev.visor.engine.riscv.Asm.*;
import static dev.visor.engine.riscv.TestMachine.DATA;
import static dev.visor.engine.riscv.TestMachine.MMIO;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The A extension: LR/SC and every AMO, word results sign-extended. */
class AtomicsTest {

    /** Runs one AMO on memory holding {@code mem} with rs2 = {@code src}; returns {rd, new memory}. */
    private static long[] amo(int funct5, boolean dword, long mem, long src) {
        TestMachine m = TestMachine.program(a -> {
            a.li(S0, DATA);
            a.li(A1, src);
            a.amo(funct5, dword, A0, S0, A1);
            a.label("end").spin();
        });
        m.memory.writeLong(DATA, 0x5555_5555_5555_5555L);
        if (dword) m.memory.writeLong(DATA, mem);
        else m.memory.writeInt(DATA, (int) mem);
        m.runTo("end");
        long after = dword ? m.memory.readLong(DATA) : m.memory.readInt(DATA);
        if (!dword) assertEquals(0x5555_5555, m.memory.readInt(DATA + 4), "a .w AMO touches 4 bytes only");
        return new long[] {m.x(A0), after};
    }

    private static void check(int funct5, boolean dword, long mem, long src, long rd, long after) {
        long[] r = amo(funct5, dword, mem, src);
        String what = String.format("funct5 0x%x %s mem=0x%x src=0x%x", funct5, dword ? "d" : "w", mem, src);
        assertEquals(rd, r[0], what + ": rd");
        assertEquals(after, r[1], what + ": memory");
    }

    @Test
    void wordAmosSignExtendTheOldValue() {
        long neg = 0x8000_0001L;  // negative as a word
        long sx = (int) neg;
        check(AMOADD, false, neg, 1, sx, (int) 0x8000_0002L);
        check(AMOSWAP, false, neg, 7, sx, 7);
        check(AMOXOR, false, neg, 0xffff_ffffL, sx, 0x7fff_fffe);
        check(AMOAND, false, neg, 0xf, sx, 1);
        check(AMOOR, false, neg, 0x10, sx, (int) 0x8000_0011L);
        check(AMOMIN, false, neg, 5, sx, (int) neg);        // signed: negative is smaller
        check(AMOMAX, false, neg, 5, sx, 5);
        check(AMOMINU, false, neg, 5, sx, 5);               // unsigned: 0x80000001 is larger
        check(AMOMAXU, false, neg, 5, sx, (int) neg);
        check(AMOMIN, false, 3, 0xffff_ffff_0000_0004L, 3, 3); // upper bits of rs2 ignored: 4 > 3
        check(AMOADD, false, 0x7fff_ffffL, 1, 0x7fff_ffffL, Integer.MIN_VALUE);
    }

    @Test
    void doublewordAmos() {
        long neg = 0x8000_0000_0000_0001L;
        check(AMOADD, true, neg, -1, neg, Long.MIN_VALUE);
        check(AMOSWAP, true, 1, neg, 1, neg);
        check(AMOXOR, true, -1, 0xff, -1, 0xffff_ffff_ffff_ff00L);
        check(AMOAND, true, neg, 0xff, neg, 1);
        check(AMOOR, true, 0x10, 0x01, 0x10, 0x11);
        check(AMOMIN, true, neg, 1, neg, neg);
        check(AMOMAX, true, neg, 1, neg, 1);
        check(AMOMINU, true, neg, 1, neg, 1);
        check(AMOMAXU, true, neg, 1, neg, neg);
        check(AMOMIN, true, 0x0000_0001_0000_0000L, 0x0000_0000_ffff_ffffL, 0x0000_0001_0000_0000L, 0xffff_ffffL);
    }

    @Test
    void lrScSucceedsAndFails() {
        TestMachine m = TestMachine.program(a -> {
            a.li(S0, DATA);
            a.li(A1, 0x1234);
            // success: lr then sc to the same address
            a.lrW(A0, S0);
            a.scW(A2, S0, A1);                  // a2 = 0
            // failure: sc without a reservation (the previous sc consumed it)
            a.li(A1, 0x9999);
            a.scW(A3, S0, A1);                  // a3 != 0, memory unchanged
            // lr.d/sc.d on the same address succeed; then a reservation on another address fails
            a.lrD(A4, S0);
            a.scD(A5, S0, A1);
            a.addi(S1, S0, 64);
            a.lrD(T0, S1);
            a.scD(A6, S0, A1);                  // reserved S1, storing to S0
            a.label("end").spin();
        });
        m.memory.writeLong(DATA, 0xffff_ffff_8000_0000L);
        m.runTo("end");
        assertEquals(0xffff_ffff_8000_0000L, m.x(A0), "lr.w sign-extends");
        assertEquals(0, m.x(A2), "sc.w success");
        assertEquals(1, m.x(A3), "sc.w without reservation fails");
        assertEquals(0xffff_ffff_0000_1234L, m.x(A4), "lr.d");
        assertEquals(0, m.x(A5));
        assertEquals(1, m.x(A6), "sc.d to an address other than the reserved one fails");
        assertEquals(0x9999L, m.memory.readLong(DATA));
    }

    @Test
    void scFailsAfterAnotherHartChangedTheWord() {
        TestMachine m = TestMachine.program(a -> {
            a.li(S0, DATA);
            a.li(A1, 5);
            a.lrW(A0, S0);
            a.label("gap").scW(A2, S0, A1);
            a.label("end").spin();
        });
        m.memory.writeInt(DATA, 1);
        m.runTo("gap");
        m.memory.writeInt(DATA, 2);     // another agent writes between lr and sc
        m.runTo("end");
        assertEquals(1, m.x(A2));
        assertEquals(2, m.memory.readInt(DATA));
    }

    @Test
    void trapClearsTheReservation() {
        TestMachine m = TestMachine.program(a -> {
            a.li(S0, DATA);
            a.li(A1, 5);
            a.lrW(A0, S0);
            a.ecall();                 // handler returns right after the ecall
            a.scW(A2, S0, A1);
            a.label("end").spin();
            a.label("handler");
            a.csrr(T0, Csr.MEPC);
            a.addi(T0, T0, 4);
            a.csrw(Csr.MEPC, T0);
            a.mret();
        });
        m.mtvec("handler");
        m.runTo("end");
        assertEquals(1, m.x(A2));
    }

    @Test
    void misalignedAtomicsFault() {
        TestMachine m = TestMachine.program(a -> {
            a.li(S0, DATA + 2);
            a.amo(AMOADD, false, A0, S0, A1);
            a.label("h").spin();
        });
        m.mtvec("h");
        m.runTo("h");
        assertEquals(Trap.STORE_MISALIGNED, m.hart.mcause);
        assertEquals(DATA + 2, m.hart.mtval);

        m = TestMachine.program(a -> {
            a.li(S0, DATA + 4);
            a.lrD(A0, S0);
            a.label("h").spin();
        });
        m.mtvec("h");
        m.runTo("h");
        assertEquals(Trap.LOAD_MISALIGNED, m.hart.mcause);
        assertEquals(DATA + 4, m.hart.mtval);
    }

    @Test
    void amoOnMmioIsAnAccessFault() {
        TestMachine m = TestMachine.program(a -> {
            a.li(S0, MMIO);
            a.amo(AMOSWAP, true, A0, S0, A1);
            a.label("h").spin();
        });
        m.mtvec("h");
        m.runTo("h");
        assertEquals(Trap.STORE_ACCESS, m.hart.mcause);
        assertEquals(MMIO, m.hart.mtval);
    }

    @Test
    void amoWithRdX0DiscardsTheOldValue() {
        TestMachine m = TestMachine.program(a -> {
            a.li(S0, DATA);
            a.li(A1, 3);
            a.amo(AMOADD, true, ZERO, S0, A1);
            a.label("end").spin();
        });
        m.memory.writeLong(DATA, 10);
        m.runTo("end");
        assertEquals(0, m.x(ZERO));
        assertEquals(13, m.memory.readLong(DATA));
    }
}
