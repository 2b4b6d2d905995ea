package dev.visor.engine.riscv;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;

import static dev.visor.engine.riscv.BlockRig.BODY;
import static dev.visor.engine.riscv.BlockRig.EXIT;
import static dev.visor.engine.riscv.BlockRig.Unit;
import static dev.visor.engine.riscv.TestMachine.BASE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Translated regions against the interpreter. A region follows conditional branches and jal to their
 * targets inside the page, so each case is a page of random integer code (from {@link BlockGen}) with
 * branches and jumps aimed at other instructions of it, forwards and backwards (so loops form), entered
 * at a random instruction. The region runs once on one machine; the interpreter then steps an
 * identical machine through as many instructions as the region said it ran, and registers, pc, memory
 * and traps (the faulting pc, cause and value, and the instructions before them) must agree. The code
 * holds atomics and the CSR instructions regions do themselves; the CSRs end up compared as well.
 */
class RegionDifferentialTest {
    static final int CASES = 1500;

    @Test
    void randomRegionsBare() { random(BlockRig.Mode.BARE, 0x7e61_0001L); }

    @Test
    void randomRegionsPaged() { random(BlockRig.Mode.PAGED, 0x7e61_0002L); }

    void random(BlockRig.Mode mode, long seed) {
        BlockRig rig = new BlockRig(mode);
        TreeMap<String, Integer> stats = new TreeMap<>();
        for (int i = 0; i < CASES; i++) one(rig, seed * 1_000_003L + i, stats);
        System.out.println("RegionDifferentialTest " + mode + ": " + stats);
        // the generator must reach the interesting cases
        assertTrue(stats.getOrDefault("trapped", 0) > CASES / 50, "too few traps: " + stats);
        assertTrue(stats.getOrDefault("left at the loop limit", 0) > CASES / 50, "too few loops: " + stats);
        assertTrue(stats.getOrDefault("ran over 100 instructions", 0) > CASES / 10, "too few long runs: " + stats);
        assertTrue(stats.getOrDefault("entered above its lowest instruction", 0) > CASES / 4, "too few inner entries: " + stats);
        assertTrue(stats.getOrDefault("holds atomics", 0) > CASES / 2, "too few atomics: " + stats);
        assertTrue(stats.getOrDefault("holds CSR instructions", 0) > CASES / 2, "too few CSR instructions: " + stats);
    }

    /** The CSRs regions do themselves (Privileged.translatable), but time, whose value differs between the two runs. */
    static final int[] REGION_CSRS = {Csr.SSTATUS, Csr.SIE, Csr.STVEC, Csr.SSCRATCH, Csr.SEPC, Csr.SCAUSE, Csr.STVAL};

    /**
     * A CSR instruction regions translate: any of the six forms, on a CSR of {@link #REGION_CSRS}.
     * Writes to sstatus flip SUM and MXR (which change what paged loads and stores may do) and SIE.
     */
    static Unit csr(Random rnd, BlockGen g) {
        int csr = REGION_CSRS[rnd.nextInt(REGION_CSRS.length)];
        int f3 = new int[]{1, 2, 3, 5, 6, 7}[rnd.nextInt(6)];
        int rs1 = (f3 & 4) != 0 ? rnd.nextInt(32) : g.rs();
        int w = csr << 20 | rs1 << 15 | f3 << 12 | g.rd() << 7 | 0x73;
        assertTrue(Privileged.translatable(w));
        return BlockGen.u32(w, BODY);
    }

    static final int[] AMO_OPS = {0x00, 0x01, 0x02, 0x03, 0x04, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x1c};

    /**
     * An LR, SC or AMO (word or doubleword, on a data base register, which is sometimes misaligned,
     * or on the register that may fault), or a fence.
     */
    static Unit atomic(Random rnd, BlockGen g) {
        if (rnd.nextInt(6) == 0) return BlockGen.u32(0x0ff0000f, BODY); // fence iorw, iorw
        int op = AMO_OPS[rnd.nextInt(AMO_OPS.length)];
        int base = rnd.nextInt(5) == 0 ? BlockGen.FAULT_BASE : g.dataBase();
        int rs2 = op == 0x02 ? (rnd.nextInt(10) == 0 ? 1 : 0) : g.rs(); // lr with rs2 != 0 is illegal
        int w = op << 27 | rnd.nextInt(4) << 25 | rs2 << 20 | base << 15 | (2 + rnd.nextInt(2)) << 12 | g.rd() << 7 | 0x2f;
        return BlockGen.u32(w, BODY);
    }

    /** Runs the case with seed {@code caseSeed}; to reproduce a failure, call this with the printed seed. */
    static void one(BlockRig rig, long caseSeed, TreeMap<String, Integer> stats) {
        Random rnd = new Random(caseSeed);
        BlockGen g = new BlockGen(rnd, rig);
        int n = 8 + rnd.nextInt(120);
        List<Unit> units = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int kind = rnd.nextInt(20);
            units.add(kind < 2 ? atomic(rnd, g) : kind == 2 ? csr(rnd, g) : g.body());
        }
        if (rnd.nextInt(4) == 0) units.set(rnd.nextInt(n), BlockGen.u32(rnd.nextBoolean() ? g.load(BlockGen.FAULT_BASE) : g.store(BlockGen.FAULT_BASE), BODY));
        int[] offsets = new int[n + 1];
        for (int i = 0; i < n; i++) offsets[i + 1] = offsets[i] + units.get(i).len();
        // aim some branches and jumps at other instructions of the page (32-bit forms, so offsets stay put)
        for (int k = rnd.nextInt(1 + n / 4); k >= 0; k--) {
            int at = rnd.nextInt(n), to = rnd.nextInt(n);
            if (units.get(at).len() != 4) continue;
            int delta = offsets[to] - offsets[at];
            int w = rnd.nextInt(4) == 0
                    ? Rvc.jType(delta, rnd.nextBoolean() ? 0 : 1 + rnd.nextInt(2) * 2) // jal x0/x1/x3 (x3 is never a base register)
                    : Rvc.bType(delta, g.rs(), g.rs(), new int[]{0, 1, 4, 5, 6, 7}[rnd.nextInt(6)]);
            units.set(at, BlockGen.u32(w, BODY));
        }
        units.add(BlockGen.u32(g.jalr(), EXIT));
        long codePa = BASE + 0x1000L * (1 + rnd.nextInt(8)) + (rnd.nextInt(0x200) & ~1);
        int entry = rnd.nextInt(n);
        long entryPa = codePa + offsets[entry];
        BlockGen.Case c = g.next(); // only for registers and memory contents
        rig.setUp(codePa, BlockRig.encode(units), c.regs(), c.scratch(), c.lastPage(), c.mmio());
        String context = String.format("case seed %dL (%s), entry at unit %d", caseSeed, rig.mode, entry);

        Block blk = BlockTranslator.translate(rig.b.memory.segment(), rig.ramSize, BASE, entryPa - BASE, true);
        assertNotNull(blk, context);
        if (blk.offsets[0] < 0) stats.merge("entered above its lowest instruction", 1, Integer::sum);
        if (units.stream().anyMatch(u -> (u.word() & 0x7f) == 0x2f)) stats.merge("holds atomics", 1, Integer::sum);
        if (units.stream().anyMatch(u -> (u.word() & 0x7f) == 0x73)) stats.merge("holds CSR instructions", 1, Integer::sum);
        Hart hb = rig.b.hart;
        long pcVa = rig.va(entryPa);
        Trap trap = null;
        long pc = 0;
        try {
            pc = blk.run(hb, hb.x, pcVa);
        } catch (Trap t) {
            trap = t;
        }
        int ran = hb.blockExecuted;
        if (ran > 100) stats.merge("ran over 100 instructions", 1, Integer::sum);
        if (ran >= BlockTranslator.LOOP_LIMIT) stats.merge("left at the loop limit", 1, Integer::sum);

        Hart ha = rig.a.hart;
        ha.pc = pcVa;
        for (int i = 0; i < ran; i++) {
            ha.execute(1);
            assertEquals(BlockRig.SENTINEL, ha.mcause, () -> context + ": the interpreter trapped within the instructions the region ran\n" + BlockRig.listing(units, n + 1));
        }
        if (trap != null) {
            stats.merge("trapped", 1, Integer::sum);
            ha.execute(1);
            assertEquals(trap.cause, ha.mcause, () -> context + ": trap cause\n" + BlockRig.listing(units, n + 1));
            assertEquals(trap.tval, ha.mtval, context + ": trap value");
            assertEquals(ha.mepc, pcVa + blk.offsets[hb.blockFaultIndex], context + ": faulting pc");
        } else {
            assertEquals(ha.pc, pc, () -> context + ": pc after " + ran + " instructions\n" + BlockRig.listing(units, n + 1));
        }
        for (int r = 0; r < 32; r++) {
            int reg = r;
            assertEquals(ha.x[r], hb.x[r], () -> context + ": x" + reg + " after " + ran + " instructions\n" + BlockRig.listing(units, n + 1));
        }
        if (trap == null) { // (the interpreter took the trap, which wrote mstatus; the region only threw it)
            assertEquals(ha.mstatus, hb.mstatus, context + ": mstatus");
            assertEquals(ha.sscratch, hb.sscratch, context + ": sscratch");
            assertEquals(ha.sepc, hb.sepc, context + ": sepc");
            assertEquals(ha.stvec, hb.stvec, context + ": stvec");
            assertEquals(ha.mie, hb.mie, context + ": mie");
        }
        byte[] x = new byte[(int) BlockRig.SCRATCH_LEN], y = new byte[x.length];
        rig.a.memory.read(BlockRig.SCRATCH, x, 0, x.length);
        rig.b.memory.read(BlockRig.SCRATCH, y, 0, y.length);
        assertTrue(java.util.Arrays.equals(x, y), context + ": scratch memory differs");
    }
}
