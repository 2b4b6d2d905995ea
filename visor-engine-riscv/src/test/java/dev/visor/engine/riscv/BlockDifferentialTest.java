package dev.visor.engine.riscv;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;

import static dev.visor.engine.riscv.BlockRig.BODY;
import static dev.visor.engine.riscv.BlockRig.EXIT;
import static dev.visor.engine.riscv.BlockRig.STOP;
import static dev.visor.engine.riscv.BlockRig.Unit;
import static dev.visor.engine.riscv.TestMachine.BASE;
import static dev.visor.engine.riscv.TestMachine.DATA;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Translated blocks against the interpreter: random straight-line integer blocks (32- and 16-bit,
 * all the instructions {@link BlockTranslator#classify} accepts) with random exits and random
 * registers, run (a) one instruction at a time by {@code execute(1)} and (b) as one translated block
 * on an identical machine; registers, pc, memory and traps must agree. Every case has its own seed
 * (printed on failure with a listing of the block), so a failure reproduces with {@link #one}.
 */
class BlockDifferentialTest {
    static final int CASES = 2000;
    static final long[] SEEDS = {0x5eed_0001L, 0x5eed_0002L, 0x5eed_0003L, 0x5eed_0004L};

    /** Case seed for case {@code i} of a run with base seed {@code seed}. */
    static long caseSeed(long seed, int i) { return seed * 1_000_003L + i; }

    void random(BlockRig.Mode mode) {
        BlockRig rig = new BlockRig(mode);
        TreeMap<String, Integer> stats = new TreeMap<>();
        int perSeed = CASES / SEEDS.length;
        for (long seed : SEEDS) {
            for (int i = 0; i < perSeed; i++) {
                long cs = caseSeed(seed, i);
                BlockRig.Outcome o = one(rig, cs, stats);
                stats.merge(o.interpTrapIndex() >= 0 ? "trapped" : "completed", 1, Integer::sum);
            }
        }
        System.out.println("BlockDifferentialTest " + mode + ": " + stats);
        // the generator must actually reach the interesting cases
        assertTrue(stats.getOrDefault("trapped", 0) > CASES / 50, "too few traps: " + stats);
        assertTrue(stats.getOrDefault("branch taken (side exit)", 0) > CASES / 20, "too few taken branches: " + stats);
        assertTrue(stats.getOrDefault("branch not taken", 0) > CASES / 20, "too few untaken branches: " + stats);
        assertTrue(stats.getOrDefault("cut at page end", 0) > CASES / 100, "too few page-end cuts: " + stats);
        assertTrue(stats.getOrDefault("exit max", 0) > CASES / 50, "too few MAX blocks: " + stats);
    }

    /** Runs the case with seed {@code caseSeed}; to reproduce a failure, call this with the printed seed. */
    static BlockRig.Outcome one(BlockRig rig, long caseSeed, TreeMap<String, Integer> stats) {
        BlockGen g = new BlockGen(new Random(caseSeed), rig);
        BlockGen.Case c = g.next();
        rig.setUp(c.codePa(), BlockRig.encode(c.units()), c.regs(), c.scratch(), c.lastPage(), c.mmio());
        int expected = BlockGen.expectedCount(c.units(), c.codePa());
        String context = String.format("case seed %dL (%s, %s%s)", caseSeed, rig.mode, g.exitKind, g.injectedFault ? ", fault injected" : "");
        BlockRig.Outcome o = rig.run(c.units(), c.codePa(), expected, context);
        if (stats != null) {
            boolean cut = expected < c.units().size() && expected < BlockTranslator.MAX_INSTRUCTIONS
                    && c.units().get(expected).role() != STOP && (expected == 0 || c.units().get(expected - 1).role() != EXIT);
            if (cut) stats.merge("cut at page end", 1, Integer::sum);
            if (expected > 0 && o.interpTrapIndex() < 0) {
                Unit last = c.units().get(expected - 1);
                if (o.sideExit()) {
                    stats.merge("branch taken (side exit)", 1, Integer::sum);
                } else if (last.role() == EXIT) {
                    int w = last.word();
                    String kind = (w & 0x7f) == 0x6f ? "jal" : "jalr";
                    stats.merge("exit " + kind + (last.len() == 2 ? " (c)" : ""), 1, Integer::sum);
                } else if (expected == BlockTranslator.MAX_INSTRUCTIONS) {
                    stats.merge("exit max", 1, Integer::sum);
                } else if (!cut) {
                    stats.merge("exit stop", 1, Integer::sum);
                }
                // branches the block ran through
                for (int i = 0; i < o.steps() - (o.sideExit() ? 1 : 0); i++) {
                    if ((c.units().get(i).word() & 0x7f) == 0x63) stats.merge("branch not taken", 1, Integer::sum);
                }
            }
        }
        return o;
    }

    static int offsetOf(List<Unit> units, int index) {
        int off = 0;
        for (int i = 0; i < index; i++) off += units.get(i).len();
        return off;
    }

    @Test
    void randomBlocksBare() { random(BlockRig.Mode.BARE); }

    @Test
    void randomBlocksPaged() { random(BlockRig.Mode.PAGED); }

    // ---------------------------------------------------------------- M extension and shift edge cases

    static final long[] EDGE = {0, 1, -1, 2, -2, 3, -3, 7, Long.MIN_VALUE, Long.MAX_VALUE, Long.MIN_VALUE + 1,
            Integer.MIN_VALUE, Integer.MAX_VALUE, 0x8000_0000L, 0xffff_ffffL, 0x1_0000_0000L,
            0xffff_ffff_8000_0000L, 0x7fff_ffff_0000_0001L, 0x1_ffff_ffffL, 63, 64, 31, 32};

    /**
     * Every OP/OP-32 register-register instruction (M extension included) on every pair of edge
     * values: each block computes op(a, b) for one a and all b, storing each result to scratch memory.
     */
    @Test
    void registerOpsOnEdgeValues() {
        BlockRig rig = new BlockRig(BlockRig.Mode.BARE);
        int[][] ops = new int[BlockGen.OP.length + BlockGen.OP32.length][];
        for (int i = 0; i < BlockGen.OP.length; i++) ops[i] = new int[]{0x33, BlockGen.OP[i][0], BlockGen.OP[i][1]};
        for (int i = 0; i < BlockGen.OP32.length; i++) ops[BlockGen.OP.length + i] = new int[]{0x3b, BlockGen.OP32[i][0], BlockGen.OP32[i][1]};
        long codePa = BASE + 0x1000;
        int blocks = 0;
        final int chunk = 16;
        for (int[] op : ops) {
            for (long a : EDGE) {
                for (int from = 0; from < EDGE.length; from += chunk) {
                    // x3 = a, x10.. = this chunk's b values; op(a, b) into x4, stored to 8*k-256(sp)
                    long[] regs = new long[32];
                    regs[2] = DATA + 0x800;
                    regs[3] = a;
                    List<Unit> units = new ArrayList<>();
                    int last = Math.min(EDGE.length, from + chunk);
                    for (int bi = from; bi < last; bi++) {
                        int rb = 10 + bi - from;
                        regs[rb] = EDGE[bi];
                        units.add(BlockGen.u32(Rvc.rType(op[1], rb, 3, op[2], 4, op[0]), BODY));
                        units.add(BlockGen.u32(Rvc.sType(8 * (bi - from) - 256, 4, 2, 3, 0x23), BODY));
                    }
                    // rd == rs1, rd == rs2 and rs1 == rs2 forms on the first b of the chunk
                    units.add(BlockGen.u32(Rvc.rType(0, 3, 0, 0, 5, 0x33), BODY));          // x5 = a
                    units.add(BlockGen.u32(Rvc.rType(op[1], 10, 5, op[2], 5, op[0]), BODY)); // x5 = x5 op b
                    units.add(BlockGen.u32(Rvc.rType(0, 10, 0, 0, 6, 0x33), BODY));         // x6 = b
                    units.add(BlockGen.u32(Rvc.rType(op[1], 6, 3, op[2], 6, op[0]), BODY));  // x6 = a op x6
                    units.add(BlockGen.u32(Rvc.rType(op[1], 3, 3, op[2], 8, op[0]), BODY));  // x8 = a op a
                    units.add(BlockGen.u32(Rvc.rType(op[1], 3, 0, op[2], 9, op[0]), BODY));  // x9 = 0 op a
                    units.add(BlockGen.u32(0x00000073, STOP));
                    rig.setUp(codePa, BlockRig.encode(units), regs, new byte[(int) BlockRig.SCRATCH_LEN], new byte[0x1000], new byte[4096]);
                    rig.run(units, codePa, units.size() - 1, String.format("edge values: %s, a = 0x%x", BlockRig.disasm(units.get(0).word()), a));
                    blocks++;
                }
            }
        }
        assertTrue(blocks >= ops.length * EDGE.length);
    }

    /** Immediate shifts and OP-IMM(-32) on edge values, every shift amount. */
    @Test
    void immediateOpsOnEdgeValues() {
        BlockRig rig = new BlockRig(BlockRig.Mode.BARE);
        long codePa = BASE + 0x2000;
        for (long a : EDGE) {
            for (int kind = 0; kind < 5; kind++) {
                for (int base = 0; base < 64; base += 16) {
                    long[] regs = new long[32];
                    regs[2] = DATA + 0x800;
                    regs[3] = a;
                    List<Unit> units = new ArrayList<>();
                    int slot = -256;
                    for (int sh = base; sh < base + 16; sh++) {
                        int w = switch (kind) {
                            case 0 -> Rvc.iType(sh, 3, 1, 4, 0x13);               // slli
                            case 1 -> Rvc.iType(sh, 3, 5, 4, 0x13);               // srli
                            case 2 -> Rvc.iType(0x400 | sh, 3, 5, 4, 0x13);       // srai
                            case 3 -> Rvc.iType((sh & 31) | (sh < 32 ? 0 : 0x400), 3, 5, 4, 0x1b); // srliw / sraiw
                            default -> Rvc.iType(sh & 31, 3, 1, 4, 0x1b);         // slliw
                        };
                        units.add(BlockGen.u32(w, BODY));
                        units.add(BlockGen.u32(Rvc.sType(slot, 4, 2, 3, 0x23), BODY));
                        slot += 8;
                    }
                    units.add(BlockGen.u32(Rvc.iType(-1, 3, 3, 5, 0x13), BODY));   // sltiu x5, a, -1
                    units.add(BlockGen.u32(Rvc.iType(-1, 3, 2, 6, 0x13), BODY));   // slti x6, a, -1
                    units.add(BlockGen.u32(Rvc.iType(2047, 3, 0, 7, 0x1b), BODY)); // addiw x7, a, 2047
                    units.add(BlockGen.u32(Rvc.iType(-2048, 3, 4, 10, 0x13), BODY)); // xori
                    units.add(BlockGen.u32(Rvc.iType(-2048, 3, 6, 11, 0x13), BODY)); // ori
                    units.add(BlockGen.u32(Rvc.iType(-2048, 3, 7, 12, 0x13), BODY)); // andi
                    rig.setUp(codePa, BlockRig.encode(units), regs, new byte[(int) BlockRig.SCRATCH_LEN], new byte[0x1000], new byte[4096]);
                    rig.run(units, codePa, units.size(),
                            String.format("immediate ops kind %d from shamt %d, a = 0x%x", kind, base, a));
                }
            }
        }
    }

    // ---------------------------------------------------------------- faults

    /**
     * A load from outside RAM in the middle of a block: registers as after the instructions before
     * it, blockFaultIndex its index, offsets[index] its byte offset (mixed 2- and 4-byte code).
     */
    @Test
    void loadAccessFaultMidBlock() {
        BlockRig rig = new BlockRig(BlockRig.Mode.BARE);
        List<Unit> units = new ArrayList<>();
        units.add(BlockGen.u32(Rvc.iType(5, 0, 0, 10, 0x13), BODY));           // addi a0, zero, 5
        units.add(new Unit(0x0505, 2, BODY));                                   // c.addi a0, 1
        units.add(BlockGen.u32(Rvc.iType(8, 2, 3, 11, 0x03), BODY));           // ld a1, 8(sp)
        units.add(new Unit(0x0585, 2, BODY));                                   // c.addi a1, 1
        units.add(BlockGen.u32(Rvc.sType(16, 10, 2, 3, 0x23), BODY));          // sd a0, 16(sp)
        units.add(BlockGen.u32(Rvc.iType(0, 9, 2, 12, 0x03), BODY));           // lw a2, 0(s1)  <- faults
        units.add(BlockGen.u32(Rvc.iType(7, 0, 0, 10, 0x13), BODY));           // addi a0, zero, 7
        units.add(BlockGen.u32(Rvc.bType(-8, 0, 0, 0), BODY));                  // beq zero, zero, -8
        assertEquals(0x00150513, Rvc.EXPAND[0x0505]);
        assertEquals(0x00158593, Rvc.EXPAND[0x0585]);
        long[] regs = new long[32];
        regs[2] = DATA + 0x100;
        regs[9] = 0x2000_0000L;
        regs[12] = 0x1234;
        long codePa = BASE + 0x3002;
        rig.setUp(codePa, BlockRig.encode(units), regs, new byte[(int) BlockRig.SCRATCH_LEN], new byte[0x1000], new byte[4096]);
        BlockRig.Outcome o = rig.run(units, codePa, units.size(), "load access fault");
        assertEquals(5, o.interpTrapIndex());
        assertNotNull(o.blockTrap());
        assertEquals(Trap.LOAD_ACCESS, o.blockTrap().cause);
        assertEquals(0x2000_0000L, o.blockTrap().tval);
        Hart h = rig.b.hart;
        assertEquals(5, h.blockFaultIndex);
        assertEquals(16, BlockTranslator.translate(rig.b.memory.segment(), rig.ramSize, BASE, codePa - BASE, false).offsets[5]);
        assertEquals(6, h.x[10]);
        assertEquals(1, h.x[11]);
        assertEquals(0x1234, h.x[12]);
        assertEquals(6, rig.b.memory.readLong(DATA + 0x110));
        assertEquals(codePa + 16, rig.a.hart.mepc);
    }

    /** The same with Sv39 paging in S-mode: a load page fault, and a store page fault on a read-only page. */
    @Test
    void pageFaultsMidBlock() {
        BlockRig rig = new BlockRig(BlockRig.Mode.PAGED);
        for (boolean store : new boolean[]{false, true}) {
            List<Unit> units = new ArrayList<>();
            units.add(BlockGen.u32(Rvc.iType(5, 0, 0, 10, 0x13), BODY));       // addi a0, zero, 5
            units.add(new Unit(0x0505, 2, BODY));                               // c.addi a0, 1
            units.add(BlockGen.u32(Rvc.sType(16, 10, 2, 3, 0x23), BODY));      // sd a0, 16(sp)
            units.add(BlockGen.u32(Rvc.iType(8, 9, 3, 11, 0x03), BODY));       // ld a1, 8(s1): works on the read-only page
            units.add(new Unit(0x0505, 2, BODY));                               // c.addi a0, 1
            units.add(store
                    ? BlockGen.u32(Rvc.sType(0, 10, 9, 2, 0x23), BODY)         // sw a0, 0(s1) <- store page fault
                    : BlockGen.u32(Rvc.iType(0, 13, 3, 12, 0x03), BODY));      // ld a2, 0(a3) <- unmapped page
            units.add(BlockGen.u32(Rvc.iType(99, 0, 0, 10, 0x13), BODY));      // addi a0, zero, 99
            units.add(BlockGen.u32(Rvc.jType(-100, 1), EXIT));                  // jal ra, -100
            long[] regs = new long[32];
            regs[2] = rig.va(DATA + 0x100);
            regs[9] = BlockRig.READ_ONLY_VA + 0x800;
            regs[13] = BlockRig.UNMAPPED_VA + 0x10;
            long codePa = BASE + 0x5fc0;
            byte[] scratch = new byte[(int) BlockRig.SCRATCH_LEN];
            scratch[scratch.length - 0x1000 + 0x808] = 0x42;
            rig.setUp(codePa, BlockRig.encode(units), regs, scratch, new byte[0x1000], new byte[4096]);
            BlockRig.Outcome o = rig.run(units, codePa, units.size(), "page fault, store=" + store);
            assertEquals(5, o.interpTrapIndex());
            assertNotNull(o.blockTrap());
            assertEquals(store ? Trap.STORE_PAGE_FAULT : Trap.LOAD_PAGE_FAULT, o.blockTrap().cause);
            assertEquals(store ? BlockRig.READ_ONLY_VA + 0x800 : BlockRig.UNMAPPED_VA + 0x10, o.blockTrap().tval);
            assertEquals(5, rig.b.hart.blockFaultIndex);
            assertEquals(rig.va(codePa) + 16, rig.a.hart.mepc);
            assertEquals(7, rig.b.hart.x[10]);
            assertEquals(0x42, rig.b.hart.x[11]);
            assertEquals(0, rig.b.hart.x[1]);
        }
    }

    /** Faults on each position of a block: the index and registers are right wherever it is. */
    @Test
    void faultAtEveryIndex() {
        BlockRig rig = new BlockRig(BlockRig.Mode.BARE);
        long codePa = BASE + 0x4000;
        for (int at = 0; at < 20; at++) {
            List<Unit> units = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                if (i == at) units.add(BlockGen.u32(Rvc.iType(0, 9, 3, 20, 0x03), BODY)); // ld x20, 0(x9)
                else if (i % 3 == 0) units.add(new Unit(0x0505, 2, BODY));                 // c.addi a0, 1
                else units.add(BlockGen.u32(Rvc.iType(i, 10, 0, 10 + (i % 8), 0x13), BODY)); // addi x(10+i%8), a0, i
            }
            units.add(BlockGen.u32(Rvc.iType(0, 1, 0, 1, 0x67), EXIT));               // jalr ra, 0(ra)
            long[] regs = new long[32];
            regs[9] = BASE - 8; // below RAM
            regs[1] = BASE + 0x123;
            regs[20] = -7;
            rig.setUp(codePa, BlockRig.encode(units), regs, new byte[(int) BlockRig.SCRATCH_LEN], new byte[0x1000], new byte[4096]);
            BlockRig.Outcome o = rig.run(units, codePa, units.size(), "fault at " + at);
            assertEquals(at, o.interpTrapIndex());
            assertEquals(at, rig.b.hart.blockFaultIndex);
            assertEquals(-7, rig.b.hart.x[20]);
            assertEquals(BASE + 0x123, rig.b.hart.x[1]);
        }
    }

    /** Loads into their own base register (pointer chasing), and one that faults: the base keeps its value. */
    @Test
    void loadsIntoTheirBaseRegister() {
        BlockRig rig = new BlockRig(BlockRig.Mode.BARE);
        List<Unit> units = List.of(
                BlockGen.u32(Rvc.iType(0, 8, 3, 8, 0x03), BODY),     // ld s0, 0(s0)
                BlockGen.u32(Rvc.iType(8, 8, 3, 8, 0x03), BODY),     // ld s0, 8(s0)
                new Unit(0x6000 | (1 << 10) | (0 << 7) | (0 << 2), 2, BODY), // c.ld s0, 8(s0)
                BlockGen.u32(Rvc.iType(-1, 8, 6, 8, 0x03), BODY),    // lwu s0, -1(s0) (misaligned)
                BlockGen.u32(Rvc.iType(0, 9, 3, 9, 0x03), BODY),     // ld s1, 0(s1) <- faults
                BlockGen.u32(Rvc.iType(0, 0, 0, 9, 0x13), BODY),
                BlockGen.u32(Rvc.jType(8, 0), EXIT));
        assertEquals(Rvc.iType(8, 8, 3, 8, 0x03), units.get(2).word());
        byte[] scratch = new byte[(int) BlockRig.SCRATCH_LEN];
        java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(scratch).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        bb.putLong(0x100, DATA + 0x200);       // *(DATA+0x100) = DATA+0x200
        bb.putLong(0x208, DATA + 0x300);       // *(DATA+0x208) = DATA+0x300
        bb.putLong(0x308, DATA + 0x401);       // *(DATA+0x308) = DATA+0x401
        bb.putInt(0x400, 0xdeadbeef);
        long[] regs = new long[32];
        regs[8] = DATA + 0x100;
        regs[9] = 0x2000_0000L;
        long codePa = BASE + 0x6000;
        rig.setUp(codePa, BlockRig.encode(units), regs, scratch, new byte[0x1000], new byte[4096]);
        BlockRig.Outcome o = rig.run(units, codePa, units.size(), "loads into their base");
        assertEquals(4, o.interpTrapIndex());
        assertEquals(0xdeadbeefL, rig.b.hart.x[8]);
        assertEquals(0x2000_0000L, rig.b.hart.x[9]);
    }
}
