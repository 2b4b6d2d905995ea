package dev.visor.engine.riscv;

import org.junit.jupiter.api.Test;

import static dev.visor.engine.riscv.Asm.*;
import static dev.visor.engine.riscv.TestMachine.BASE;
import static dev.visor.engine.riscv.TestMachine.DATA;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * (With far calls switched on: see BlockTranslator#staticJalr.) Calls too far for jal, made the way Linux makes them: {@code auipc} + {@code jalr} (a call) and
 * {@code auipc} + {@code jalr zero} (a tail call). Translated regions take such a pair as a static exit
 * chained to its target, and a call's callee that returns to the return site goes on there chained
 * too (see BlockTranslator.Gen#returned). The translated run must end exactly as the interpreter's,
 * including a jalr that another path reaches with a different base register (which must not be taken
 * as static), callees returning past their site and faulting; and the returns must really have
 * stayed out of the dispatcher.
 */
class FarCallTest {
    static final int ITERATIONS = 12_000; // the first 2000 or so run in the interpreter until the code is hot
    static final long PLAIN = BASE + 0x3000, SKIPPING = BASE + 0x3100, TAIL = BASE + 0x3200,
            FAULTING = BASE + 0x3300, OTHER = BASE + 0x3400;

    /** {@code auipc base, hi; jalr link, lo(base)} to {@code target}; returns lo. */
    static int far(Asm a, int link, int base, long target) {
        long off = target - a.here();
        long hi = (off + 0x800) >> 12;
        int lo = (int) (off - (hi << 12));
        a.auipc(base, (int) hi & 0xfffff);
        a.jalr(link, base, lo);
        return lo;
    }

    static void program(Asm a) {
        a.li(SP, DATA + 0x800);
        a.li(S1, 0x2000_0000L);            // nothing there: loads fault
        a.la(T0, "mtrap");
        a.csrw(Csr.MTVEC, T0);
        a.li(S0, ITERATIONS);
        a.label("loop");
        a.addi(A0, A0, 1);
        far(a, RA, RA, PLAIN);             // returns to its return site
        a.add(A1, A1, A0);
        far(a, RA, T1, SKIPPING);          // returns one instruction past it
        a.addi(A2, A2, 100);               // skipped
        far(a, RA, T1, TAIL);              // tail-calls PLAIN, which returns here
        a.addi(A3, A3, 1);
        a.andi(T1, S0, 15);
        a.bne(T1, ZERO, "nofault");
        far(a, RA, T1, FAULTING);          // every 16th iteration: a load fault inside the callee
        a.label("nofault");
        // a jalr reached both from its auipc and, on odd iterations, by a jump that set the base
        // register to reach OTHER instead: its target is not static
        a.andi(T1, S0, 1);
        a.bne(T1, ZERO, "odd");
        long auipcAt = a.here();
        a.auipc(T2, (int) (((PLAIN - auipcAt) + 0x800) >> 12) & 0xfffff);
        a.label("shared");
        int lo = (int) ((PLAIN - auipcAt) - ((((PLAIN - auipcAt) + 0x800) >> 12) << 12));
        a.jalr(RA, T2, lo);
        a.j("after");
        a.label("odd");
        a.li(T2, OTHER - lo);
        a.j("shared");
        a.label("after");
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
        padTo(a, PLAIN);
        a.addi(A4, A4, 3);
        a.xor(A6, A6, A0);
        a.jalr(ZERO, RA, 0);
        padTo(a, SKIPPING);
        a.addi(RA, RA, 4);
        a.addi(A7, A7, 1);
        a.jalr(ZERO, RA, 0);
        padTo(a, TAIL);
        a.addi(S3, S3, 1);
        far(a, ZERO, T1, PLAIN);
        padTo(a, FAULTING);
        a.lw(T2, S1, 0);
        a.addi(T3, T3, 1);
        a.jalr(ZERO, RA, 0);
        padTo(a, OTHER);
        a.addi(T5, T5, 1);
        a.jalr(ZERO, RA, 0);
        padTo(a, BASE + 0x4000);
    }

    static void padTo(Asm a, long address) {
        while (a.here() < address) a.addi(ZERO, ZERO, 0);
    }

    @Test
    void farCallsMatchTheInterpreterAndReturnWithoutTheDispatcher() {
        boolean jalr = BlockTranslator.staticJalr, returns = BlockTranslator.callReturns;
        BlockTranslator.staticJalr = true;
        BlockTranslator.callReturns = true;
        try {
            run();
        } finally {
            BlockTranslator.staticJalr = jalr;
            BlockTranslator.callReturns = returns;
        }
    }

    private void run() {
        TestMachine fast = TestMachine.program(FarCallTest::program);
        TestMachine slow = TestMachine.program(FarCallTest::program);
        long end = fast.addressOf("end");

        slow.hart.attention = true;
        slow.runUntil(end, 4_000_000);
        fast.hart.asyncTranslation = false; // translate inline: deterministic
        for (int n = 0; fast.hart.pc != end; n++) {
            if (n > 200_000) throw new AssertionError(String.format("runaway: pc 0x%x", fast.hart.pc));
            fast.hart.attention = true;
            fast.hart.execute(Hart.BLOCK);
            long pc = fast.hart.pc;
            if (pc < BASE || pc >= BASE + 0x4000) {
                throw new AssertionError(String.format("left the program: pc 0x%x mcause %d mepc 0x%x", pc, fast.hart.mcause, fast.hart.mepc));
            }
        }

        assertArrayEquals(slow.hart.x, fast.hart.x, "registers");
        assertEquals(slow.hart.instret, fast.hart.instret, "instructions retired");
        assertEquals(ITERATIONS / 16, fast.x(S2), "faults taken in the callee");
        assertEquals(0, fast.x(A2), "the instruction the callee returned past never ran");
        assertEquals(ITERATIONS, fast.x(S3), "tail calls");
        assertEquals(ITERATIONS / 2, fast.x(T5), "calls that reached OTHER through the shared jalr");
        byte[] x = new byte[0x800], y = new byte[0x800];
        fast.memory.read(DATA, x, 0, x.length);
        slow.memory.read(DATA, y, 0, y.length);
        assertArrayEquals(y, x, "memory");
        assertTrue(fast.hart.blockInstructions > fast.hart.instret / 2, () -> "most instructions should run in blocks: "
                + fast.hart.statistics());
        // Each iteration makes five calls and five returns: through the dispatcher, at least ten
        // dispatcher entries an iteration. Chained, only the shared jalr (not static) and its callee's
        // return pass it, and each chain that ran out of the slice's budget (measured: 2.7 an iteration).
        assertTrue(fast.hart.blockRuns < 4L * ITERATIONS, () -> "calls and returns should stay chained: " + fast.hart.statistics());
    }
}
