package dev.visor.engine.riscv;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static dev.visor.engine.riscv.BlockRig.BODY;
import static dev.visor.engine.riscv.BlockRig.EXIT;
import static dev.visor.engine.riscv.BlockRig.STOP;
import static dev.visor.engine.riscv.BlockRig.Unit;
import static dev.visor.engine.riscv.TestMachine.BASE;
import static dev.visor.engine.riscv.TestMachine.DATA;
import static dev.visor.engine.riscv.TestMachine.MMIO;

/**
 * Random blocks for {@link BlockDifferentialTest}: straight-line integer code (32- and 16-bit) that
 * the translator accepts, conditional branches among it (side exits: taken leaves the block, not
 * taken goes on), ending in a random exit (jal, jalr, c.j/c.jr/c.jalr), before an instruction the
 * translator leaves to the interpreter, at MAX_INSTRUCTIONS, or at the page end. Loads and stores use base registers x2 and x8,
 * which no instruction writes and which point into the scratch area; x9 (never written either) points
 * somewhere that may fault, and a few accesses use it.
 */
final class BlockGen {
    static final int FAULT_BASE = 9;
    static final int[] DATA_BASES = {2, 8};

    final Random rnd;
    final BlockRig rig;

    /** What the generator chose, for the statistics. */
    String exitKind;
    boolean injectedFault;
    /** Only branches that are never taken (for blocks meant to run to MAX_INSTRUCTIONS). */
    boolean safeBranches;

    BlockGen(Random rnd, BlockRig rig) {
        this.rnd = rnd;
        this.rig = rig;
    }

    static boolean reserved(int r) { return r == 2 || r == 8 || r == FAULT_BASE; }

    int rd() {
        int r;
        do r = rnd.nextInt(32); while (reserved(r));
        return r;
    }

    int rs() { return rnd.nextInt(32); }

    int imm12() {
        return switch (rnd.nextInt(10)) {
            case 0 -> 0;
            case 1 -> -1;
            case 2 -> -2048;
            case 3 -> 2047;
            case 4 -> rnd.nextInt(16) - 8;
            default -> rnd.nextInt(4096) - 2048;
        };
    }

    static Unit u32(int w, int role) { return new Unit(w, 4, role); }

    // ---------------------------------------------------------------- 32-bit body instructions

    int lui() { return (rnd.nextInt() & 0xfffff000) | (rd() << 7) | 0x37; }

    int auipc() { return (rnd.nextInt() & 0xfffff000) | (rd() << 7) | 0x17; }

    int opImm() {
        int f3 = rnd.nextInt(8);
        if (f3 == 1) return Rvc.iType(rnd.nextInt(64), rs(), 1, rd(), 0x13);
        if (f3 == 5) return Rvc.iType((rnd.nextBoolean() ? 0x400 : 0) | rnd.nextInt(64), rs(), 5, rd(), 0x13);
        return Rvc.iType(imm12(), rs(), f3, rd(), 0x13);
    }

    int opImm32() {
        return switch (rnd.nextInt(4)) {
            case 0 -> Rvc.iType(imm12(), rs(), 0, rd(), 0x1b);
            case 1 -> Rvc.iType(rnd.nextInt(32), rs(), 1, rd(), 0x1b);
            case 2 -> Rvc.iType(rnd.nextInt(32), rs(), 5, rd(), 0x1b);
            default -> Rvc.iType(0x400 | rnd.nextInt(32), rs(), 5, rd(), 0x1b);
        };
    }

    static final int[][] OP = {{0, 0}, {0, 1}, {0, 2}, {0, 3}, {0, 4}, {0, 5}, {0, 6}, {0, 7}, {0x20, 0}, {0x20, 5},
            {1, 0}, {1, 1}, {1, 2}, {1, 3}, {1, 4}, {1, 5}, {1, 6}, {1, 7}};
    static final int[][] OP32 = {{0, 0}, {0, 1}, {0, 5}, {0x20, 0}, {0x20, 5}, {1, 0}, {1, 4}, {1, 5}, {1, 6}, {1, 7}};

    int op() {
        int[] f = OP[rnd.nextInt(OP.length)];
        return Rvc.rType(f[0], rs(), rs(), f[1], rd(), 0x33);
    }

    int op32() {
        int[] f = OP32[rnd.nextInt(OP32.length)];
        return Rvc.rType(f[0], rs(), rs(), f[1], rd(), 0x3b);
    }

    int load(int base) { return Rvc.iType(imm12(), base, rnd.nextInt(7), rd(), 0x03); }

    int store(int base) { return Rvc.sType(imm12(), rs(), base, rnd.nextInt(4), 0x23); }

    int dataBase() { return DATA_BASES[rnd.nextInt(2)]; }

    int body32() {
        return switch (rnd.nextInt(11)) {
            case 0 -> lui();
            case 1 -> auipc();
            case 2, 3 -> opImm();
            case 4 -> opImm32();
            case 5, 6 -> op();
            case 7 -> op32();
            case 8 -> load(dataBase());
            default -> store(dataBase());
        };
    }

    // ---------------------------------------------------------------- 16-bit instructions

    /** A random compressed instruction whose expansion classifies as {@code kind} and respects the register rules. */
    int compressed(int kind) {
        while (true) {
            int h = rnd.nextInt(0x10000);
            if ((h & 3) == 3) continue;
            int w = Rvc.EXPAND[h];
            if (w == 0 || BlockTranslator.classify(w) != kind) continue;
            int op = w & 0x7f, rd = (w >>> 7) & 31, rs1 = (w >>> 15) & 31;
            boolean hasRd = op != 0x23 && op != 0x63;
            if (hasRd && reserved(rd)) continue;
            if ((op == 0x03 || op == 0x23) && rs1 != 2 && rs1 != 8) continue;
            if (op == 0x63 && branchOffset(w) == 2) continue; // taken would look like not taken
            return h;
        }
    }

    /** A body instruction; conditional branches are side exits, so they are body instructions too. */
    Unit body() {
        if (rnd.nextInt(14) == 0) return u32(safeBranches ? neverTaken() : branch(), BODY);
        if (rnd.nextInt(3) == 0) {
            int h;
            do h = compressed(BODY); while (safeBranches && (Rvc.EXPAND[h] & 0x7f) == 0x63);
            return new Unit(h, 2, BODY);
        }
        return u32(body32(), BODY);
    }

    static int branchOffset(int w) {
        return ((w >> 31) << 12) | (((w >>> 7) & 1) << 11) | (((w >>> 25) & 0x3f) << 5) | (((w >>> 8) & 0xf) << 1);
    }

    /** c.beqz or c.bnez. */
    int compressedBranch() {
        while (true) {
            int h = compressed(BODY);
            if ((Rvc.EXPAND[h] & 0x7f) == 0x63) return h;
        }
    }

    // ---------------------------------------------------------------- exits and stops

    static final int[] STOPS = {
            0x00000073, // ecall
            0x00100073, // ebreak
            0x0000100f, // fence.i
            0x30002573, // csrr a0, mstatus
            0x2805252f, // an A-extension encoding with the undefined funct5 0x05
            0x00052007, // flw f0, 0(a0)
            0x00a53027, // fsd f10, 0(a0)
            0x02b57553, // fadd.d
            0x00000000, // (16-bit) illegal
            0x0000705b, // custom opcode
    };

    Unit stop() {
        int w = STOPS[rnd.nextInt(STOPS.length)];
        if (w == 0) return new Unit(0, 2, STOP);
        return u32(w, STOP);
    }

    /** A conditional branch, half of them of a form that is (almost) never taken, never to the next instruction. */
    int branch() {
        int[] f3s = {0, 1, 4, 5, 6, 7};
        int imm;
        do {
            imm = switch (rnd.nextInt(4)) {
                case 0 -> -4096;
                case 1 -> 4094;
                default -> (rnd.nextInt(4096) - 2048) * 2;
            };
        } while (imm == 4);
        int f3 = f3s[rnd.nextInt(f3s.length)], rs1 = rs(), rs2;
        if (rnd.nextInt(3) == 0) {
            rs2 = rnd.nextInt(4) == 0 ? rs1 : rs();
        } else if (rnd.nextBoolean()) { // beq of two different registers: usually not taken
            f3 = 0;
            rs2 = (rs1 + 1 + rnd.nextInt(31)) % 32;
        } else {
            return neverTaken();
        }
        return Rvc.bType(imm, rs2, rs1, f3);
    }

    /** bne/blt/bltu x, x. */
    int neverTaken() {
        int rs = rs();
        return Rvc.bType((rnd.nextInt(4096) - 2048) * 2, rs, rs, new int[]{1, 4, 6}[rnd.nextInt(3)]);
    }

    /** c.j, c.jr or c.jalr. */
    int compressedJump() {
        return switch (rnd.nextInt(3)) {
            case 0 -> 0xa001 | (rnd.nextInt(1 << 11) << 2);              // c.j
            case 1 -> 0x8002 | ((1 + rnd.nextInt(31)) << 7);              // c.jr rs1
            default -> 0x9002 | ((1 + rnd.nextInt(31)) << 7);             // c.jalr rs1
        };
    }

    int jal() {
        int rd = switch (rnd.nextInt(3)) { case 0 -> 0; case 1 -> 1; default -> rd(); };
        return Rvc.jType((rnd.nextInt(1 << 20) - (1 << 19)) * 2, rd);
    }

    int jalr() {
        int rd = rd();
        int rs1 = rnd.nextBoolean() ? rd : rs();
        return Rvc.iType(imm12(), rs1, 0, rd, 0x67);
    }

    // ---------------------------------------------------------------- whole cases

    /** A generated case: the units, where to place them, the registers and memory contents. */
    record Case(List<Unit> units, long codePa, long[] regs, byte[] scratch, byte[] lastPage, byte[] mmio) {}

    long special() {
        return rnd.nextInt(3) == 0 ? rnd.nextLong() : BlockRig.SPECIAL[rnd.nextInt(BlockRig.SPECIAL.length)];
    }

    long[] registers() {
        long[] x = new long[32];
        for (int r = 1; r < 32; r++) x[r] = special();
        x[2] = rig.va(DATA + 0x800 + rnd.nextInt(0x800));
        x[8] = rig.va(DATA + 0x1800 + rnd.nextInt(0x2800));
        x[FAULT_BASE] = faultBase();
        return x;
    }

    /** Somewhere accesses through x9 (offset -2048..2047) may or may not fault. */
    long faultBase() {
        long ramEnd = BASE + rig.ramSize;
        if (rig.mode == BlockRig.Mode.BARE) {
            return switch (rnd.nextInt(5)) {
                case 0, 1 -> 0x2000_0800L + rnd.nextInt(0x100);         // nothing there: access fault
                case 2 -> MMIO + 0x800 + rnd.nextInt(8);                  // the scratch device (misaligned faults)
                case 3 -> ramEnd - rnd.nextInt(0x10);                     // straddles the end of RAM
                default -> 0xffff_ffff_ffff_f800L + rnd.nextInt(0x100);   // wraps around to low addresses
            };
        }
        return switch (rnd.nextInt(4)) {
            case 0, 1 -> BlockRig.UNMAPPED_VA + 0x800 + rnd.nextInt(0x10); // not mapped: page fault
            case 2 -> BlockRig.READ_ONLY_VA + 0x800 + rnd.nextInt(0x10);   // loads work, stores fault
            default -> 0x0000_4000_0000_0800L;                             // not sign-extended: page fault
        };
    }

    byte[] bytes(int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    Case next() {
        List<Unit> units = new ArrayList<>();
        int exit = rnd.nextInt(10);
        safeBranches = exit >= 7;
        int n = rnd.nextInt(8) == 0 ? 0 : 1 + rnd.nextInt(40);
        for (int i = 0; i < n; i++) units.add(body());
        injectedFault = false;
        if (n > 0 && rnd.nextInt(5) == 0) {
            int at = rnd.nextInt(n);
            units.set(at, u32(rnd.nextBoolean() ? load(FAULT_BASE) : store(FAULT_BASE), BODY));
            injectedFault = true;
        }
        switch (exit) {
            case 0, 1 -> { exitKind = "branch, stop"; units.add(u32(branch(), BODY)); units.add(stop()); }
            case 2 -> { exitKind = "jal"; units.add(u32(jal(), EXIT)); }
            case 3 -> { exitKind = "jalr"; units.add(u32(jalr(), EXIT)); }
            case 4 -> { exitKind = "c.exit"; units.add(new Unit(rnd.nextBoolean() ? compressed(EXIT) : compressedJump(), 2, EXIT)); }
            case 5, 6 -> { exitKind = "stop"; units.add(stop()); }
            case 7, 8 -> {
                exitKind = "max";
                while (units.size() <= BlockTranslator.MAX_INSTRUCTIONS + 1) units.add(body());
            }
            default -> { exitKind = "c.branch, jal"; units.add(new Unit(compressedBranch(), 2, BODY)); units.add(u32(jal(), EXIT)); }
        }
        int pageOff = rnd.nextInt(4) == 0
                ? 0x1000 - 2 * (1 + rnd.nextInt(100))
                : rnd.nextInt(0x1000 - 0x180) & ~1;
        long codePa = BASE + 0x1000L * (1 + rnd.nextInt(8)) + pageOff;
        byte[] mmio = rnd.nextBoolean() ? new byte[4096] : bytes(4096);
        return new Case(units, codePa, registers(), bytes((int) BlockRig.SCRATCH_LEN), bytes(0x1000), mmio);
    }

    /**
     * How many of the units the block must hold: up to and including the first exit, before the
     * first stop, at most MAX_INSTRUCTIONS, and only instructions that end inside the page.
     */
    static int expectedCount(List<Unit> units, long codePa) {
        int pageOff = (int) (codePa & 0xfff);
        int count = 0, off = 0;
        for (Unit u : units) {
            if (count == BlockTranslator.MAX_INSTRUCTIONS) break;
            if (pageOff + off + u.len() > 0x1000) break;
            if (u.role() == STOP) break;
            count++;
            off += u.len();
            if (u.role() == EXIT) break;
        }
        return count;
    }
}
