package dev.visor.engine.riscv;

import org.junit.jupiter.api.Test;

import java.util.function.Consumer;

import static dev.visor.engine.riscv.Asm.*;
import static dev.visor.engine.riscv.TestMachine.BASE;
import static dev.visor.engine.riscv.TestMachine.DATA;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Translated blocks inside {@link Hart#execute}: a hot loop run with a large budget (so its blocks are
 * translated and used) must end in the same state as the same program stepped with {@code execute(1)}
 * (never translated), including a load that faults inside a block (the handler skips it, so mepc
 * must be exact) and code patched after its block was translated (the content check must miss).
 */
class BlockExecuteTest {
    static final int ITERATIONS = 300, PATCH_AT = 100;
    static final int S4 = 20;
    static final int PATCHED = Rvc.iType(3, A5, 0, A5, 0x13); // addi a5, a5, 3

    static void program(Asm a) {
        a.li(SP, DATA);
        a.li(S1, 0x2000_0000L);            // nothing there: loads fault
        a.la(T0, "mtrap");
        a.csrw(Csr.MTVEC, T0);
        a.li(S0, ITERATIONS);
        a.label("loop");
        a.addi(A0, A0, 7);
        a.mul(A1, A0, A0);
        a.sd(A1, SP, 0);
        a.ld(A2, SP, 0);
        a.xor(A3, A2, A0);
        a.sw(A3, SP, 12);
        a.andi(A4, S0, 63);
        a.bne(A4, ZERO, "skip");           // a side exit, usually taken
        a.lw(A6, S1, 0);                   // every 64th iteration: access fault inside the block
        a.label("skip");
        a.andi(A4, S0, 1);
        a.beq(A4, ZERO, "even");
        a.jal(RA, "func");
        a.label("even");
        a.label("patch");
        a.addi(A5, A5, 1);                 // becomes addi a5, a5, 3 at iteration PATCH_AT
        a.li(T1, PATCH_AT);
        a.bne(S0, T1, "nopatch");
        a.la(T2, "patch");
        a.li(T3, PATCHED);
        a.sw(T3, T2, 0);
        a.fenceI();
        a.label("nopatch");
        a.addi(S0, S0, -1);
        a.bne(S0, ZERO, "loop");
        a.j("end");
        a.label("func");
        a.addi(A7, A7, 3);
        a.c(0x0a0e);                       // c.slli s4, 3
        a.c(0x0001);                       // c.nop (keeps mtrap 4-byte aligned)
        a.srai(S4, S4, 1);
        a.jalr(ZERO, RA, 0);
        a.label("end").spin();
        a.label("mtrap");
        a.csrr(T4, Csr.MEPC);
        a.addi(T4, T4, 4);
        a.csrw(Csr.MEPC, T4);
        a.addi(S2, S2, 1);
        a.mret();
    }

    /**
     * Runs {@code m} with large budgets until pc is {@code stop}. attention is set so that execute
     * returns after a trap instead of looping through a trap storm; a trap the interpreted run did
     * not take fails the test.
     */
    static void runFast(TestMachine m, long stop, TestMachine reference) {
        m.hart.asyncTranslation = false; // translate inline: deterministic
        for (int n = 0; m.hart.pc != stop; n++) {
            if (n > 100_000) throw new AssertionError(String.format("runaway: pc 0x%x", m.hart.pc));
            m.hart.attention = true;
            m.hart.execute(Hart.BLOCK);
            long pc = m.hart.pc;
            if (pc < BASE || pc >= BASE + 0x1000) {
                throw new AssertionError(String.format("left the program: pc 0x%x mcause %d mepc 0x%x mtval 0x%x (reference: mcause %d mepc 0x%x); %s",
                        pc, m.hart.mcause, m.hart.mepc, m.hart.mtval, reference.hart.mcause, reference.hart.mepc, m.hart.statistics()));
            }
        }
    }

    @Test
    void hotLoopMatchesTheInterpreter() {
        assertEquals(Rvc.iType(3, S4, 1, S4, 0x13), Rvc.EXPAND[0x0a0e]);
        TestMachine fast = TestMachine.program(BlockExecuteTest::program);
        TestMachine slow = TestMachine.program(BlockExecuteTest::program);
        fast.hart.x[S4] = slow.hart.x[S4] = 0x1234_5678_9abc_def1L;
        long end = fast.addressOf("end");

        slow.hart.attention = true; // a trap storm returns from execute instead of spinning inside it
        slow.runUntil(end, 1_000_000);
        runFast(fast, end, slow);

        assertTrue(fast.hart.blocksTranslated > 0 && fast.hart.blockRuns > 0,
                "blocks were not used: " + fast.hart.statistics());
        assertEquals(0, slow.hart.blockRuns);
        assertArrayEquals(slow.hart.x, fast.hart.x, "registers");
        assertEquals(4, fast.x(S2), () -> String.format("faults taken (iterations 256, 192, 128, 64); mcause %d mepc 0x%x mtval 0x%x, loop at 0x%x",
                fast.hart.mcause, fast.hart.mepc, fast.hart.mtval, fast.addressOf("loop")));
        assertEquals((ITERATIONS - PATCH_AT + 1) + 3L * (PATCH_AT - 1), fast.x(A5), "patched instruction used after the patch");
        assertEquals(slow.hart.mepc, fast.hart.mepc);
        assertEquals(Trap.LOAD_ACCESS, fast.hart.mcause);
        byte[] x = new byte[64], y = new byte[64];
        fast.memory.read(DATA, x, 0, 64);
        slow.memory.read(DATA, y, 0, 64);
        assertArrayEquals(y, x, "memory");
        System.out.println("BlockExecuteTest: translated " + fast.hart.statistics());
        System.out.println("BlockExecuteTest: stepped    " + slow.hart.statistics());
    }

    /** Loop whose last iteration's load faults inside the (translated) loop block; the handler reads minstret into t4. */
    static void faultingLoop(Asm a) {
        a.li(SP, DATA);                   // 3 instructions
        a.la(T0, "mtrap");                // 2
        a.csrw(Csr.MTVEC, T0);            // 1
        a.li(S0, 200);                    // 1
        a.label("loop");
        a.addi(A0, A0, 1);
        a.sltiu(T5, S0, 2);               // 1 on the last iteration
        a.slli(T6, T5, 40);
        a.add(T6, T6, SP);                // DATA, or DATA + 2^40 (nothing there) on the last iteration
        a.lw(A6, T6, 0);
        a.addi(A1, A1, 2);
        a.addi(S0, S0, -1);
        a.bne(S0, ZERO, "loop");
        a.label("end").spin();
        a.label("mtrap");
        a.csrr(T4, Csr.MINSTRET);
        a.label("done").spin();
    }

    /** Instructions retired before the faulting load: 7 + 199 iterations of 8 + 4; the load itself does not retire. */
    static final long RETIRED_BEFORE_FAULT = 7 + 199 * 8 + 4;

    /**
     * A load that faults inside a translated block: mepc, registers and minstret as the handler sees
     * them are the architectural ones (the faulting instruction does not retire).
     */
    @Test
    void faultInsideABlockFromExecute() {
        TestMachine fast = TestMachine.program(BlockExecuteTest::faultingLoop);
        TestMachine slow = TestMachine.program(BlockExecuteTest::faultingLoop);
        long done = fast.addressOf("done");
        slow.hart.attention = true;
        slow.runUntil(done, 1_000_000);
        runFast(fast, done, slow);
        assertTrue(fast.hart.blockRuns > 0, "the loop ran as a block");
        assertEquals(Trap.LOAD_ACCESS, fast.hart.mcause);
        assertEquals(fast.addressOf("loop") + 16, fast.hart.mepc, "mepc is the faulting load");
        assertEquals(slow.hart.mepc, fast.hart.mepc, "mepc");
        assertEquals(RETIRED_BEFORE_FAULT, fast.x(T4), "minstret in the handler");
        long[] a = fast.hart.x.clone(), b = slow.hart.x.clone();
        a[T4] = b[T4] = 0; // see interpreterInstretAtAFault
        assertArrayEquals(b, a, "registers");
    }

    /**
     * The interpreter counts an instruction that traps in minstret (done++ happens before it executes
     * and is not undone by the trap), one more than the translated path and the spec. Hart.java is
     * outside this test's remit; enable when fixed there.
     */
    @Test
    void interpreterInstretAtAFault() {
        TestMachine slow = TestMachine.program(BlockExecuteTest::faultingLoop);
        slow.hart.attention = true;
        slow.runUntil(slow.addressOf("done"), 1_000_000);
        assertEquals(RETIRED_BEFORE_FAULT, slow.x(T4), "minstret in the handler");
    }

    /**
     * After code in a hot block is patched, the new translation is used from then on: the block is
     * translated again once (not every HOT_THRESHOLD arrivals) and the old one is not run.
     */
    @Test
    void aPatchedBlockIsTranslatedOnceMore() {
        final int iterations = 1500, patchAt = 1000;
        Consumer<Asm> prog = a -> {
            a.li(S0, iterations);
            a.label("loop");
            a.jal(RA, "f");
            a.label("back");
            a.addi(S0, S0, -1);
            a.li(T1, patchAt);
            a.bne(S0, T1, "nopatch");
            a.la(T2, "f");
            a.li(T3, Rvc.iType(3, A5, 0, A5, 0x13)); // addi a5, a5, 3
            a.sw(T3, T2, 0);
            a.fenceI();
            a.label("nopatch");
            a.bne(S0, ZERO, "loop");
            a.label("end").spin();
            a.label("f");
            a.addi(A5, A5, 1);
            a.addi(A4, A4, 1);
            a.jalr(ZERO, RA, 0);
        };
        TestMachine fast = TestMachine.program(prog);
        runFast(fast, fast.addressOf("end"), fast);
        assertEquals((iterations - patchAt) + 3L * patchAt, fast.x(A5));
        long before = fast.hart.blocksTranslated;
        System.out.println("BlockExecuteTest patched: " + fast.hart.statistics());
        // distinct blocks: loop (jal), f (jalr), back (..bne side exits, fence.i stops), nopatch (bne), plus f once more
        assertTrue(before <= 6, "blocks translated: " + before + " (" + fast.hart.statistics() + ")");
    }
}
