package dev.visor.engine.riscv;

import org.junit.jupiter.api.Test;

import static dev.visor.engine.riscv.Asm.*;
import static dev.visor.engine.riscv.TestMachine.BASE;
import static dev.visor.engine.riscv.TestMachine.DATA;
import static dev.visor.engine.riscv.TestMachine.MMIO;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Loads and stores of every width: sign and zero extension, misaligned and page-crossing accesses, MMIO, faults. */
class LoadStoreTest {

    @Test
    void loadsExtendCorrectly() {
        TestMachine m = TestMachine.program(a -> {
            a.li(S0, DATA);
            a.lb(A0, S0, 0);
            a.lbu(A1, S0, 0);
            a.lh(A2, S0, 0);
            a.lhu(A3, S0, 0);
            a.lw(A4, S0, 0);
            a.lwu(A5, S0, 0);
            a.ld(A6, S0, 0);
            a.lb(A7, S0, 8);   // positive byte
            a.lw(T0, S0, 8);   // positive word
            a.lw(T1, S0, 8);
            a.label("end").spin();
        });
        m.memory.writeLong(DATA, 0xfedc_ba98_8765_f4f3L);
        m.memory.writeLong(DATA + 8, 0x0000_0000_7fff_ff7fL);
        m.runTo("end");
        assertEquals(0xffff_ffff_ffff_fff3L, m.x(A0));
        assertEquals(0xf3, m.x(A1));
        assertEquals(0xffff_ffff_ffff_f4f3L, m.x(A2));
        assertEquals(0xf4f3, m.x(A3));
        assertEquals(0xffff_ffff_8765_f4f3L, m.x(A4));
        assertEquals(0x8765_f4f3L, m.x(A5));
        assertEquals(0xfedc_ba98_8765_f4f3L, m.x(A6));
        assertEquals(0x7f, m.x(A7));
        assertEquals(0x7fff_ff7fL, m.x(T0));
        assertEquals(0x7fff_ff7fL, m.x(T1));
    }

    @Test
    void storesWriteOnlyTheirWidth() {
        TestMachine m = TestMachine.program(a -> {
            a.li(S0, DATA);
            a.li(A0, 0x1122_3344_5566_7788L);
            a.li(T0, -1);
            a.sd(T0, S0, 0);
            a.sd(T0, S0, 8);
            a.sd(T0, S0, 16);
            a.sd(T0, S0, 24);
            a.sb(A0, S0, 0);
            a.sh(A0, S0, 8);
            a.sw(A0, S0, 16);
            a.sd(A0, S0, 24);
            a.label("end").spin();
        });
        m.runTo("end");
        assertEquals(0xffff_ffff_ffff_ff88L, m.memory.readLong(DATA));
        assertEquals(0xffff_ffff_ffff_7788L, m.memory.readLong(DATA + 8));
        assertEquals(0xffff_ffff_5566_7788L, m.memory.readLong(DATA + 16));
        assertEquals(0x1122_3344_5566_7788L, m.memory.readLong(DATA + 24));
    }

    @Test
    void misalignedWithinAPage() {
        TestMachine m = TestMachine.program(a -> {
            a.li(S0, DATA + 1);
            a.li(A0, 0x0102_0304_0506_0708L);
            a.sd(A0, S0, 0);       // DATA+1 .. DATA+8
            a.ld(A1, S0, 0);
            a.lw(A2, S0, 2);       // DATA+3
            a.lhu(A3, S0, 4);      // DATA+5
            a.sh(A0, S0, 100);     // odd halfword
            a.lh(A4, S0, 100);
            a.label("end").spin();
        });
        m.runTo("end");
        assertEquals(0x0102_0304_0506_0708L, m.x(A1));
        assertEquals(0x0304_0506L, m.x(A2));
        assertEquals(0x0304, m.x(A3));
        assertEquals(0x0708, m.x(A4));
        assertEquals(0x08, m.memory.readByte(DATA + 1));
        assertEquals(0x01, m.memory.readByte(DATA + 8));
    }

    @Test
    void misalignedAcrossAPage() {
        long page = DATA + 0x1000;
        TestMachine m = TestMachine.program(a -> {
            a.li(S0, page - 3);
            a.li(A0, 0x8877_6655_4433_2211L);
            a.sd(A0, S0, 0);       // 3 bytes in one page, 5 in the next
            a.ld(A1, S0, 0);
            a.lw(A2, S0, 0);       // page-3 .. page: 11 22 33 44
            a.lw(A3, S0, 2);       // page-1 .. page+2: 33 44 55 66
            a.lh(A4, S0, 2);       // page-1, page: 33 44
            a.li(T0, 0xffff_ffff_8000_0000L);
            a.sw(T0, S0, 1);       // page-2 .. page+1
            a.lw(A5, S0, 1);       // sign-extended across the boundary
            a.lhu(A6, S0, 2);
            a.label("end").spin();
        });
        m.runTo("end");
        assertEquals(0x8877_6655_4433_2211L, m.x(A1));
        assertEquals(0x4433_2211L, m.x(A2));
        assertEquals(0x6655_4433L, m.x(A3));
        assertEquals(0x4433, m.x(A4));
        assertEquals(0xffff_ffff_8000_0000L, m.x(A5));
        assertEquals(0x0000, m.x(A6));
        assertEquals(0x80, m.memory.readByte(page + 1) & 0xff);
    }

    @Test
    void mmioGoesThroughTheBus() {
        TestMachine m = TestMachine.program(a -> {
            a.li(S0, MMIO);
            a.li(A0, 0x1234_5678_9abc_def0L);
            a.sd(A0, S0, 8);
            a.sw(A0, S0, 16);
            a.lw(A1, S0, 8);      // sign-extended: 0x9abcdef0
            a.lbu(A2, S0, 9);
            a.ld(A3, S0, 8);
            a.ld(A4, S0, 8);      // again: MMIO never enters the TLB, the device sees every access
            a.label("end").spin();
        });
        m.runTo("end");
        assertEquals(0xffff_ffff_9abc_def0L, m.x(A1));
        assertEquals(0xde, m.x(A2));
        assertEquals(0x1234_5678_9abc_def0L, m.x(A3));
        assertEquals(java.util.List.of("w8@8", "w4@16", "r4@8", "r1@9", "r8@8", "r8@8"), m.mmioLog);
    }

    @Test
    void misalignedMmioAndUnmappedAddressesFault() {
        TestMachine m = TestMachine.program(a -> {
            a.li(S0, MMIO);
            a.lw(A1, S0, 2);       // misaligned device access
            a.label("h1").spin();
        });
        m.hart.mtvec = m.addressOf("h1");
        m.runTo("h1");
        assertEquals(Trap.LOAD_MISALIGNED, m.hart.mcause);
        assertEquals(MMIO + 2, m.hart.mtval);

        TestMachine n = TestMachine.program(a -> {
            a.li(S0, 0x2000_0000L); // nothing there
            a.sw(A1, S0, 0);
            a.label("h").spin();
        });
        n.hart.mtvec = n.addressOf("h");
        n.runTo("h");
        assertEquals(Trap.STORE_ACCESS, n.hart.mcause);
        assertEquals(0x2000_0000L, n.hart.mtval);

        TestMachine o = TestMachine.program(a -> {
            a.li(S0, BASE + (4L << 20) - 4); // last word of RAM, then 4 bytes past the end
            a.ld(A1, S0, 0);
            a.label("h").spin();
        });
        o.hart.mtvec = o.addressOf("h");
        o.runTo("h");
        assertTrue(o.hart.mcause == Trap.LOAD_ACCESS, "mcause " + o.hart.mcause);
    }

    @Test
    void fetchFromUnmappedMemoryIsAnAccessFault() {
        TestMachine m = TestMachine.program(a -> {
            a.li(T0, 0x3000_0000L);
            a.jalr(0, T0, 0);
            a.label("h").spin();
        });
        m.hart.mtvec = m.addressOf("h");
        m.runTo("h");
        assertEquals(Trap.INSN_ACCESS, m.hart.mcause);
        assertEquals(0x3000_0000L, m.hart.mepc);
        assertEquals(0x3000_0000L, m.hart.mtval);
    }

    @Test
    void selfModifyingCodeIsSeenAfterFenceI() {
        TestMachine m = TestMachine.program(a -> {
            a.li(S0, 0);          // patched below
            a.label("patch").addi(A0, ZERO, 1);
            a.label("back").spin();
        });
        // first run: a0 = 1
        m.runTo("back");
        assertEquals(1, m.x(A0));
        Asm p = new Asm(m.addressOf("back"));
        long target = m.addressOf("patch");
        // new code after "back": store "addi a0,zero,2" over "patch", fence.i, jump back to it
        int newInsn = Asm.i(2, 0, 0, A0, 0x13);
        p.li(T0, target);
        p.li(T1, newInsn);
        p.sw(T1, T0, 0);
        p.fenceI();
        p.jalr(0, T0, 0);
        m.load(p);
        long spinAfter = m.addressOf("back");
        m.hart.pc = m.addressOf("back");
        m.runUntil(target, 50);
        m.hart.execute(1);
        assertEquals(2, m.x(A0));
        assertEquals(spinAfter, m.hart.pc);
    }

    @Test
    void htifToHostSeesTheStoredWidthOnly() {
        // riscv-tests write tohost with sw: the upper bits of the source register are not stored
        TestMachine m = TestMachine.program(a -> {
            a.li(S0, DATA);
            a.li(A0, 0xffff_ffff_0000_0001L);
            a.sw(A0, S0, 0);
            a.label("end").spin();
        });
        m.group.setHtifToHost(DATA);
        m.runTo("end");
        assertEquals(java.util.List.of(0), m.exits);
        assertEquals(0, m.memory.readLong(DATA), "tohost acknowledged");
    }

    @Test
    void htifExitCodeAndPutchar() {
        TestMachine m = TestMachine.program(a -> {
            a.li(S0, DATA);
            a.li(A0, (1L << 56) | (1L << 48) | 'A');
            a.sd(A0, S0, 0);
            a.li(A0, (5 << 1) | 1);
            a.sd(A0, S0, 0);
            a.label("end").spin();
        });
        m.group.setHtifToHost(DATA);
        m.runTo("end");
        assertEquals("A", m.console.toString());
        assertEquals(java.util.List.of(5), m.exits);
    }
}
