package dev.visor.engine.riscv;

import org.junit.jupiter.api.Test;

import static dev.visor.engine.riscv.Asm.*;
import static dev.visor.engine.riscv.TestMachine.BASE;
import static dev.visor.engine.riscv.TestMachine.DATA;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Calls from a loop into functions on other pages, where the translated blocks chain into each other
 * (see Block.exits): the callees return normally, return past the return site, fault, and call further
 * from another page. The translated run must end exactly as the interpreter's: registers, memory,
 * faults taken and instructions retired, and must actually have run in translated blocks.
 */
class CrossPageCallTest {
    static final int ITERATIONS = 12_000; // the first 2000 or so run in the interpreter until the code is hot

    static void program(Asm a) {
        a.li(SP, DATA + 0x800);
        a.li(S1, 0x2000_0000L);            // nothing there: loads fault
        a.la(T0, "mtrap");
        a.csrw(Csr.MTVEC, T0);
        a.li(S0, ITERATIONS);
        a.label("loop");
        a.addi(A0, A0, 1);
        a.jal(RA, "plain");                // returns to its return site
        a.add(A1, A1, A0);
        a.jal(RA, "skipping");             // returns one instruction past it
        a.addi(A2, A2, 100);               // skipped
        a.addi(A3, A3, 1);
        a.andi(T1, S0, 15);
        a.bne(T1, ZERO, "nofault");
        a.jal(RA, "faulting");             // every 16th iteration: a load fault inside the callee
        a.label("nofault");
        a.jal(RA, "nesting");              // calls plain itself, from another page
        a.xor(A5, A5, A4);
        a.addi(S0, S0, -1);
        a.bne(S0, ZERO, "loop");
        a.wfi();                           // returns from execute, so the translated run stops at end too
        a.label("end").spin();
        a.label("mtrap");
        a.csrr(T4, Csr.MEPC);
        a.addi(T4, T4, 4);
        a.csrw(Csr.MEPC, T4);
        a.addi(S2, S2, 1);
        a.mret();
        padTo(a, BASE + 0x1000);
        a.label("plain");
        a.addi(A4, A4, 3);
        a.xor(A6, A6, A0);
        a.jalr(ZERO, RA, 0);
        a.label("skipping");
        a.addi(RA, RA, 4);
        a.addi(A7, A7, 1);
        a.jalr(ZERO, RA, 0);
        a.label("faulting");
        a.lw(T2, S1, 0);
        a.addi(T3, T3, 1);
        a.jalr(ZERO, RA, 0);
        padTo(a, BASE + 0x2000);
        a.label("nesting");
        a.addi(SP, SP, -16);
        a.sd(RA, SP, 8);
        a.jal(RA, "plain");
        a.addi(S3, S3, 2);
        a.ld(RA, SP, 8);
        a.addi(SP, SP, 16);
        a.jalr(ZERO, RA, 0);
    }

    static void padTo(Asm a, long address) {
        while (a.here() < address) a.addi(ZERO, ZERO, 0);
    }

    @Test
    void callsAcrossPagesMatchTheInterpreter() {
        TestMachine fast = TestMachine.program(CrossPageCallTest::program);
        TestMachine slow = TestMachine.program(CrossPageCallTest::program);
        long end = fast.addressOf("end");

        slow.hart.attention = true;
        slow.runUntil(end, 2_000_000);
        fast.hart.asyncTranslation = false; // translate inline: deterministic
        for (int n = 0; fast.hart.pc != end; n++) {
            if (n > 100_000) throw new AssertionError(String.format("runaway: pc 0x%x", fast.hart.pc));
            fast.hart.attention = true;
            fast.hart.execute(Hart.BLOCK);
            long pc = fast.hart.pc;
            if (pc < BASE || pc >= BASE + 0x3000) {
                throw new AssertionError(String.format("left the program: pc 0x%x mcause %d mepc 0x%x", pc, fast.hart.mcause, fast.hart.mepc));
            }
        }

        assertArrayEquals(slow.hart.x, fast.hart.x, "registers");
        assertEquals(slow.hart.instret, fast.hart.instret, "instructions retired");
        assertEquals(ITERATIONS / 16, fast.x(S2), "faults taken in the callee");
        assertEquals(0, fast.x(A2), "the instruction the callee returned past never ran");
        assertEquals(slow.hart.mepc, fast.hart.mepc);
        byte[] x = new byte[0x800], y = new byte[0x800];
        fast.memory.read(DATA, x, 0, x.length);
        slow.memory.read(DATA, y, 0, y.length);
        assertArrayEquals(y, x, "memory");
        assertTrue(fast.hart.blocksTranslated > 0, fast.hart.statistics());
        assertTrue(fast.hart.blockInstructions > fast.hart.instret / 2, () -> "most instructions should run in blocks: "
                + fast.hart.statistics());
    }
}
