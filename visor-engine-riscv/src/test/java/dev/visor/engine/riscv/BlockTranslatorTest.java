package dev.visor.engine.riscv;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.visor.engine.riscv.BlockRig.BODY;
import static dev.visor.engine.riscv.BlockRig.EXIT;
import static dev.visor.engine.riscv.BlockRig.STOP;
import static dev.visor.engine.riscv.BlockRig.Unit;
import static dev.visor.engine.riscv.TestMachine.BASE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * Where {@link BlockTranslator} starts and ends straight-line blocks (the building block of regions):
 * instruction classes, page ends, MAX_INSTRUCTIONS. Regions are tested by {@link RegionDifferentialTest}.
 */
class BlockTranslatorTest {
    final TestMachine m = new TestMachine();

    static final int ADDI = Rvc.iType(1, 10, 0, 10, 0x13);   // addi a0, a0, 1
    static final int C_ADDI = 0x0505;                         // c.addi a0, 1

    static String hex(int w) { return String.format("0x%08x (%s)", w, BlockRig.disasm(w)); }

    // ---------------------------------------------------------------- classify

    static final int[] SYSTEM = {
            0x00000073, // ecall
            0x00100073, // ebreak
            0x30200073, // mret
            0x10200073, // sret
            0x10500073, // wfi
            Rvc.rType(0x09, 11, 10, 0, 0, 0x73), // sfence.vma a0, a1
            Rvc.iType(0x300, 10, 1, 11, 0x73),   // csrrw a1, mstatus, a0
            Rvc.iType(0xc00, 0, 2, 11, 0x73),    // csrrs a1, cycle, zero (rdcycle)
            Rvc.iType(0x341, 10, 3, 0, 0x73),    // csrrc zero, mepc, a0
            Rvc.iType(0x300, 8, 5, 11, 0x73),    // csrrwi
            Rvc.iType(0x300, 8, 6, 11, 0x73),    // csrrsi
            Rvc.iType(0x300, 8, 7, 11, 0x73),    // csrrci
    };

    static List<Integer> atomics() {
        List<Integer> l = new ArrayList<>();
        int[] f5 = {Asm.AMOADD, Asm.AMOSWAP, Asm.LR, Asm.SC, Asm.AMOXOR, Asm.AMOOR, Asm.AMOAND, Asm.AMOMIN, Asm.AMOMAX, Asm.AMOMINU, Asm.AMOMAXU};
        for (int f : f5) {
            for (int f3 = 2; f3 <= 3; f3++) {
                for (int aqrl = 0; aqrl < 4; aqrl++) l.add(Rvc.rType((f << 2) | aqrl, 11, 10, f3, 12, 0x2f));
            }
        }
        return l;
    }

    static List<Integer> floatingPoint() {
        List<Integer> l = new ArrayList<>();
        l.add(Rvc.iType(8, 10, 2, 1, 0x07));          // flw f1, 8(a0)
        l.add(Rvc.iType(8, 10, 3, 1, 0x07));          // fld
        l.add(Rvc.sType(8, 1, 10, 2, 0x27));          // fsw
        l.add(Rvc.sType(8, 1, 10, 3, 0x27));          // fsd
        for (int op : new int[]{0x43, 0x47, 0x4b, 0x4f}) { // fmadd, fmsub, fnmsub, fnmadd (.s and .d)
            l.add((3 << 27) | (0 << 25) | (2 << 20) | (1 << 15) | (7 << 12) | (4 << 7) | op);
            l.add((3 << 27) | (1 << 25) | (2 << 20) | (1 << 15) | (7 << 12) | (4 << 7) | op);
        }
        for (int f7 : new int[]{0x00, 0x01, 0x04, 0x05, 0x08, 0x09, 0x0c, 0x0d, 0x2c, 0x2d, 0x10, 0x14, 0x50, 0x60, 0x61, 0x68, 0x69, 0x70, 0x71, 0x78, 0x79, 0x20, 0x21}) {
            l.add(Rvc.rType(f7, 2, 1, 0, 3, 0x53));  // OP-FP: fadd, fsub, fmul, fdiv, fsqrt, fsgnj, fmin, fcmp, fcvt, fmv, fclass...
        }
        return l;
    }

    static final int[] FENCES = {
            0x0ff0000f, // fence iorw, iorw
            0x8330000f, // fence.tso
            0x0100000f, // pause
    };
    static final int FENCE_I = 0x0000100f;

    /** Not instructions at all, or encodings the interpreter rejects: also left to it. */
    static final int[] INVALID = {
            0x00000000, 0xffffffff,
            Rvc.iType(0x400 | 3, 10, 1, 10, 0x13), // slli with bit 30 set
            Rvc.iType(0x200 | 3, 10, 5, 10, 0x13), // srli with a bad funct6
            Rvc.iType(0x20 | 3, 10, 1, 10, 0x1b),  // slliw with shamt[5] set
            Rvc.iType(0x600 | 3, 10, 5, 10, 0x1b), // sraiw with a bad funct7
            Rvc.iType(0, 10, 2, 10, 0x1b),         // OP-IMM-32 funct3 2
            Rvc.rType(0x20, 11, 10, 1, 12, 0x33),  // OP funct7 0x20 with funct3 1
            Rvc.rType(0x02, 11, 10, 0, 12, 0x33),  // OP funct7 2
            Rvc.rType(0, 11, 10, 2, 12, 0x3b),     // OP-32 funct3 2
            Rvc.rType(1, 11, 10, 1, 12, 0x3b),     // OP-32 M funct3 1 (no mulhw)
            Rvc.rType(1, 11, 10, 3, 12, 0x3b),     // OP-32 M funct3 3
            Rvc.rType(0x20, 11, 10, 1, 12, 0x3b),  // OP-32 funct7 0x20 funct3 1
            Rvc.iType(0, 10, 7, 11, 0x03),         // LOAD funct3 7
            Rvc.sType(0, 11, 10, 4, 0x23),         // STORE funct3 4
            Rvc.bType(8, 11, 10, 2),               // BRANCH funct3 2
            Rvc.bType(8, 11, 10, 3),               // BRANCH funct3 3
            Rvc.iType(0, 10, 1, 11, 0x67),         // JALR funct3 1
            0x0000705b, 0x0000000b, 0x0000002b,    // custom opcodes
    };

    @Test
    void classifyLeavesPrivilegedFloatAndFenceIToTheInterpreter() {
        List<Integer> stops = new ArrayList<>();
        for (int w : SYSTEM) stops.add(w);
        stops.addAll(floatingPoint());
        stops.add(FENCE_I);
        for (int w : INVALID) stops.add(w);
        for (int w : stops) assertEquals(STOP, BlockTranslator.classify(w), () -> hex(w));
        // blocks hold LR/SC/AMOs (through Atomics, the interpreter's code) and fences; not undefined AMO functions
        for (int w : atomics()) assertEquals(BODY, BlockTranslator.classify(w), () -> hex(w));
        for (int w : FENCES) assertEquals(BODY, BlockTranslator.classify(w), () -> hex(w));
        assertEquals(STOP, BlockTranslator.classify(Rvc.rType(0x05 << 2, 11, 10, 2, 12, 0x2f)), "funct5 0x05");
        assertEquals(STOP, BlockTranslator.classify(Rvc.rType(0, 11, 10, 4, 12, 0x2f)), "funct3 4");
    }

    @Test
    void classifyAcceptsIntegerCode() {
        BlockGen g = new BlockGen(new java.util.Random(7), new BlockRig(BlockRig.Mode.BARE));
        for (int i = 0; i < 2000; i++) {
            int w = g.body32();
            assertEquals(BODY, BlockTranslator.classify(w), () -> hex(w));
        }
        // conditional branches are side exits: the block goes on through them
        for (int f3 : new int[]{0, 1, 4, 5, 6, 7}) assertEquals(BODY, BlockTranslator.classify(Rvc.bType(-16, 11, 10, f3)));
        assertEquals(EXIT, BlockTranslator.classify(Rvc.jType(16, 1)));
        assertEquals(EXIT, BlockTranslator.classify(Rvc.jType(-16, 0)));
        assertEquals(EXIT, BlockTranslator.classify(Rvc.iType(-4, 10, 0, 10, 0x67)));
        assertEquals(EXIT, BlockTranslator.classify(Rvc.EXPAND[0x8082])); // c.jr ra (ret)
    }

    /** Every compressed encoding: the translator takes it iff its expansion classifies as non-STOP. */
    @Test
    void compressedEncodings() {
        for (int h = 0; h < 0x10000; h++) {
            if ((h & 3) == 3) continue;
            int w = Rvc.EXPAND[h];
            int k = w == 0 ? STOP : BlockTranslator.classify(w);
            if (k != STOP && h % 61 != 0) continue; // a sample of the translatable ones (each is a class)
            long pa = BASE + 0x1000;
            m.memory.writeShort(pa, (short) h);
            m.memory.writeInt(pa + 2, 0x00000073); // ecall after it
            Block b = BlockTranslator.translate(m.memory.segment(), m.memory.size(), BASE, pa - BASE, false);
            if (k == STOP) {
                assertNull(b, String.format("0x%04x", h));
            } else {
                assertNotNull(b, String.format("0x%04x", h));
                assertEquals(1, b.count);
                assertEquals(1, b.words.length);
                assertEquals(0xffffL, b.lastMask);
            }
        }
    }

    // ---------------------------------------------------------------- where blocks end

    Block translate(long pa, List<Unit> units) {
        byte[] code = BlockRig.encode(units);
        m.memory.write(pa & ~0xfffL, new byte[0x2000], 0, 0x2000);
        m.memory.write(pa, code, 0, code.length);
        return BlockTranslator.translate(m.memory.segment(), m.memory.size(), BASE, pa - BASE, false);
    }

    /** Runs b at pc = pa with a0 = 0; checks the returned pc, a0 = count (each instruction adds 1) and blockExecuted. */
    void runAndCheck(Block b, long pa, int count, long nextPc) {
        Hart h = m.hart;
        java.util.Arrays.fill(h.x, 0);
        h.blockExecuted = 0;
        long pc = b.run(h, h.x, pa);
        assertEquals(nextPc, pc, "next pc");
        assertEquals(count, h.x[10], "a0");
        assertEquals(count, h.blockExecuted, "blockExecuted");
    }

    static List<Unit> repeat(Unit u, int n) {
        List<Unit> l = new ArrayList<>();
        for (int i = 0; i < n; i++) l.add(u);
        return l;
    }

    static Unit u32(int w) { return new Unit(w, 4, BODY); }

    static final Unit A = u32(ADDI), C = new Unit(C_ADDI, 2, BODY);

    @Test
    void theBlockEndsBeforeEachStopInstruction() {
        List<Integer> stops = new ArrayList<>();
        for (int w : SYSTEM) stops.add(w);
        stops.addAll(floatingPoint());
        stops.add(FENCE_I);
        for (int w : INVALID) if (w != 0) stops.add(w);
        long pa = BASE + 0x2000;
        for (int w : stops) {
            List<Unit> units = new ArrayList<>(List.of(A, C, A, u32(w), A, A));
            Block b = translate(pa, units);
            assertNotNull(b, () -> hex(w));
            assertEquals(3, b.count, () -> hex(w));
            runAndCheck(b, pa, 3, pa + 10);
            // and a block that starts with it is not translated at all
            assertNull(translate(pa, List.of(u32(w), A)), () -> hex(w));
        }
        // an illegal 16-bit instruction (0x0000) too
        Block b = translate(pa, List.of(A, C, new Unit(0, 2, STOP), A));
        assertEquals(2, b.count);
    }

    @Test
    void theBlockEndsAfterAJump() {
        long pa = BASE + 0x2000;
        Block b = translate(pa, List.of(A, C, A, u32(Rvc.jType(-100, 1)), A, A));
        assertEquals(4, b.count);
        Block c = translate(pa, List.of(A, C, new Unit(0x8082, 2, EXIT), A, A)); // c.jr ra
        assertEquals(3, c.count);
        // a conditional branch is a side exit: not taken, the block goes on
        Block d = translate(pa, List.of(A, u32(Rvc.bType(-4, 0, 0, 1)), C, A, u32(0x00000073)));
        assertEquals(4, d.count);
        Hart h = m.hart;
        java.util.Arrays.fill(h.x, 0);
        h.blockExecuted = 0;
        assertEquals(pa + 14, d.run(h, h.x, pa));
        assertEquals(3, h.x[10]);
        assertEquals(4, h.blockExecuted);
    }

    @Test
    void neverCrossesThePageEnd() {
        long page = BASE + 0x3000;
        // 4-byte instructions from 0xff0: four fit
        Block b = translate(page + 0xff0, repeat(A, 10));
        assertEquals(4, b.count);
        runAndCheck(b, page + 0xff0, 4, page + 0x1000);
        // from 0xffc: one
        b = translate(page + 0xffc, repeat(A, 10));
        assertEquals(1, b.count);
        runAndCheck(b, page + 0xffc, 1, page + 0x1000);
        // 2-byte ones from 0xffa: three, the last at 0xffe
        b = translate(page + 0xffa, repeat(C, 10));
        assertEquals(3, b.count);
        runAndCheck(b, page + 0xffa, 3, page + 0x1000);
        // a c.addi at 0xffe alone
        b = translate(page + 0xffe, repeat(C, 4));
        assertEquals(1, b.count);
        runAndCheck(b, page + 0xffe, 1, page + 0x1000);
        // random mixes: whatever the start, the block ends inside its page
        java.util.Random r = new java.util.Random(3);
        for (int i = 0; i < 300; i++) {
            List<Unit> units = new ArrayList<>();
            for (int k = 0; k < 80; k++) units.add(r.nextBoolean() ? A : C);
            int off = 0x1000 - 2 * (1 + r.nextInt(90));
            Block x = translate(page + off, units);
            int expected = BlockGen.expectedCount(units, page + off);
            if (expected == 0) {
                assertNull(x);
                continue;
            }
            assertEquals(expected, x.count, "start 0x" + Integer.toHexString(off));
            int end = off + x.offsets[x.count - 1] + units.get(x.count - 1).len();
            assertEquals(true, end <= 0x1000, "block end 0x" + Integer.toHexString(end));
        }
    }

    @Test
    void aStraddlingInstructionIsNotIncluded() {
        long page = BASE + 0x4000;
        // addi at 0xff6, 0xffa, then one at 0xffe that would end at 0x1002
        Block b = translate(page + 0xff6, repeat(A, 5));
        assertEquals(2, b.count);
        runAndCheck(b, page + 0xff6, 2, page + 0xffe);
        // c.addi at 0xffc, then a 4-byte addi at 0xffe
        b = translate(page + 0xffc, List.of(C, A, A));
        assertEquals(1, b.count);
        runAndCheck(b, page + 0xffc, 1, page + 0xffe);
        // a 4-byte instruction at 0xffe as the first one: no block at all
        assertNull(translate(page + 0xffe, List.of(A, A)));
        // a straddling jump is not included either
        b = translate(page + 0xffa, List.of(C, C, u32(Rvc.jType(8, 1))));
        assertEquals(2, b.count);
        runAndCheck(b, page + 0xffa, 2, page + 0xffe);
    }

    @Test
    void maxInstructionsIsRespected() {
        int max = BlockTranslator.MAX_INSTRUCTIONS;
        long pa = BASE + 0x5000;
        Block b = translate(pa, repeat(A, max + 20));
        assertEquals(max, b.count);
        runAndCheck(b, pa, max, pa + 4L * max);
        b = translate(pa, repeat(C, max + 20));
        assertEquals(max, b.count);
        runAndCheck(b, pa, max, pa + 2L * max);
        // a jump right after MAX instructions is not part of the block; one at MAX - 1 is
        List<Unit> units = repeat(A, max);
        units.add(u32(Rvc.jType(-64, 0)));
        b = translate(pa, units);
        assertEquals(max, b.count);
        runAndCheck(b, pa, max, pa + 4L * max);
        units = repeat(A, max - 1);
        units.add(u32(Rvc.jType(-64, 0)));
        b = translate(pa, units);
        assertEquals(max, b.count);
        Hart h = m.hart;
        java.util.Arrays.fill(h.x, 0);
        h.blockExecuted = 0;
        assertEquals(pa + 4L * (max - 1) - 64, b.run(h, h.x, pa));
        assertEquals(max - 1, h.x[10]);
        assertEquals(max, h.blockExecuted);
    }

    /** Blocks in the last page of RAM: decoding never reads past the end of RAM. */
    @Test
    void blocksAtTheEndOfRam() {
        long end = BASE + m.memory.size();
        java.util.Random r = new java.util.Random(11);
        int translated = 0;
        for (int start = 0x80; start >= 2; start -= 2) {
            List<Unit> units = new ArrayList<>();
            int len = 0;
            while (len < start) {
                Unit u = start - len >= 4 && r.nextBoolean() ? A : C;
                units.add(u);
                len += u.len();
            }
            byte[] code = BlockRig.encode(units);
            m.memory.write(end - start, code, 0, code.length);
            Block b = BlockTranslator.translate(m.memory.segment(), m.memory.size(), BASE, m.memory.size() - start, false);
            int expected = Math.min(units.size(), BlockTranslator.MAX_INSTRUCTIONS);
            if (b == null) {
                // allowed only where the last instruction word would extend past the end of RAM
                assertEquals(2, start & 3, "no block at end - 0x" + Integer.toHexString(start));
                continue;
            }
            translated++;
            assertEquals(expected, b.count, "end - 0x" + Integer.toHexString(start));
            runAndCheck(b, end - start, expected, end - start + b.offsets[expected - 1] + units.get(expected - 1).len());
        }
        assertEquals(true, translated > 20, "translated " + translated);
    }
}
