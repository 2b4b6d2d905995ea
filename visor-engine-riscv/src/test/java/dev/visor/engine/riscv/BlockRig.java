package dev.visor.engine.riscv;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.visor.engine.riscv.TestMachine.BASE;
import static dev.visor.engine.riscv.TestMachine.DATA;
import static dev.visor.engine.riscv.TestMachine.MMIO;

/**
 * Differential rig for translated blocks: two identical {@link TestMachine}s, one stepping a piece of
 * guest code through the interpreter ({@code execute(1)}, which never uses a translated block), the
 * other running it as one {@link BlockTranslator} block; {@link #run} compares the outcome.
 *
 * <p>Layout: code in pages BASE+0x1000..BASE+0x9000, scratch data at DATA..DATA+0x6000, the last RAM
 * page is compared too (for accesses running off the end of RAM). In {@link Mode#PAGED} the hart is
 * in S-mode with Sv39: VA {@link #VBASE}+i*4K maps to BASE+i*4K for i in 0..0x15 (RWX, A/D set), page
 * VBASE+0x20000 is unmapped and VBASE+0x21000 maps the last scratch page read-only.
 */
final class BlockRig {
    /** BlockTranslator.classify results (private constants there). */
    static final int STOP = 0, BODY = 1, EXIT = 2;

    enum Mode { BARE, PAGED }

    static final long VBASE = 0x4000_0000L;
    static final long UNMAPPED_VA = VBASE + 0x2_0000, READ_ONLY_VA = VBASE + 0x2_1000;
    static final long SCRATCH = DATA, SCRATCH_LEN = 0x6000;
    static final long TABLES = BASE + 0x20_0000;
    static final long MTVEC = BASE + 0xf000;
    static final long SENTINEL = 0x5eedL;

    /** One encoded instruction: {@code bits} is 16 or 32 bits wide ({@code len}); role is what the test means it to be. */
    record Unit(int bits, int len, int role) {
        int word() { return len == 2 ? Rvc.EXPAND[bits & 0xffff] : bits; }
    }

    /** What one case produced on both sides. */
    record Outcome(int interpTrapIndex, Trap blockTrap, long pc, int steps, boolean sideExit) {}

    final Mode mode;
    final TestMachine a = new TestMachine(), b = new TestMachine();
    final long ramSize = a.memory.size();

    BlockRig(Mode mode) {
        this.mode = mode;
        if (mode == Mode.PAGED) {
            for (TestMachine m : List.of(a, b)) {
                PageTables pt = new PageTables(m.memory, 3, TABLES);
                for (int i = 0; i <= 0x15; i++) {
                    pt.map(VBASE + 0x1000L * i, BASE + 0x1000L * i, 0, PageTables.RWX | PageTables.A | PageTables.D);
                }
                pt.map(READ_ONLY_VA, SCRATCH + SCRATCH_LEN - 0x1000, 0, PageTables.V | PageTables.R | PageTables.A);
            }
        }
    }

    /** Virtual address of guest-physical {@code pa} (code and scratch only). */
    long va(long pa) { return mode == Mode.BARE ? pa : pa - BASE + VBASE; }

    long satp() { return (8L << 60) | (TABLES >>> 12); }

    /** Same machine state on both sides: registers, scratch bytes, code (the pages around it zeroed first). */
    void setUp(long codePa, byte[] code, long[] regs, byte[] scratch, byte[] lastPage, byte[] mmio) {
        for (TestMachine m : List.of(a, b)) {
            Hart h = m.hart;
            h.reset(0, 0, 0, 0);
            System.arraycopy(regs, 0, h.x, 0, 32);
            h.x[0] = 0;
            h.mtvec = MTVEC;
            h.mcause = SENTINEL;
            h.mepc = 0;
            h.mtval = 0;
            h.blockFaultIndex = -1;
            h.blockExecuted = 0;
            if (mode == Mode.PAGED) {
                h.satp = satp();
                h.priv = Hart.PRIV_S;
                h.updateContext();
                h.flushTlb();
            }
            long page = codePa & ~0xfffL;
            m.memory.write(page, new byte[0x2000], 0, 0x2000);
            m.memory.write(codePa, code, 0, code.length);
            m.memory.write(SCRATCH, scratch, 0, scratch.length);
            m.memory.write(BASE + ramSize - 0x1000, lastPage, 0, lastPage.length);
            System.arraycopy(mmio, 0, m.mmioBytes, 0, mmio.length);
        }
    }

    static byte[] encode(List<Unit> units) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (Unit u : units) {
            for (int k = 0; k < u.len(); k++) out.write(u.bits() >>> (8 * k));
        }
        return out.toByteArray();
    }

    /**
     * Runs {@code units} at {@code codePa} on both machines ({@link #setUp} first) and compares: the
     * block's instruction count and offsets, registers, pc or trap, scratch memory and MMIO bytes.
     * {@code expected} is how many of the units the block must hold. Throws AssertionError with
     * {@code context} and a listing on any difference.
     */
    Outcome run(List<Unit> units, long codePa, int expected, String context) {
        long pcVa = va(codePa);
        int[] offsets = new int[units.size()];
        for (int i = 0, off = 0; i < units.size(); off += units.get(i).len(), i++) offsets[i] = off;
        long[] initial = a.hart.x.clone();

        // (a) interpreter, one instruction per execute(1)
        Hart ha = a.hart;
        ha.pc = pcVa;
        int trapAt = -1, steps = 0;
        boolean sideExit = false;
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < expected; i++) {
            ha.execute(1);
            steps++;
            if (ha.mcause != SENTINEL) {
                trapAt = i;
                break;
            }
            if (i + 1 < expected && ha.pc != pcVa + offsets[i + 1]) {
                // a taken conditional branch: a side exit of the block
                sideExit = true;
                if ((units.get(i).word() & 0x7f) != 0x63) {
                    problems.add(String.format("interpreter step %d (not a branch) went to pc 0x%x, not the next instruction", i, ha.pc));
                }
                break;
            }
        }

        // (b) translated block
        Hart hb = b.hart;
        Block blk = BlockTranslator.translate(b.memory.segment(), ramSize, BASE, codePa - BASE, false);
        Trap trap = null;
        long pc = 0;
        if (expected == 0) {
            if (blk != null) problems.add("expected no block, got one of " + blk.count);
        } else if (blk == null) {
            problems.add("translate returned null");
        } else {
            if (blk.count != expected) problems.add("block.count " + blk.count + ", expected " + expected);
            for (int i = 0; i < Math.min(blk.count, expected); i++) {
                if (blk.offsets[i] != offsets[i]) problems.add("offsets[" + i + "] = " + blk.offsets[i] + ", expected " + offsets[i]);
            }
            if (blk.offsets.length != blk.count) problems.add("offsets.length " + blk.offsets.length);
            try {
                pc = blk.run(hb, hb.x, pcVa);
            } catch (Trap t) {
                trap = t;
            } catch (Throwable t) {
                problems.add("block threw " + t);
            }
        }

        if (expected > 0 && blk != null) {
            if (trapAt >= 0) {
                if (trap == null) {
                    problems.add(String.format("interpreter trapped at %d (cause %d) but the block returned pc 0x%x", trapAt, ha.mcause, pc));
                } else {
                    if (hb.blockFaultIndex != trapAt) problems.add("blockFaultIndex " + hb.blockFaultIndex + ", interpreter trapped at " + trapAt);
                    else if (pcVa + blk.offsets[hb.blockFaultIndex] != ha.mepc) {
                        problems.add(String.format("faulting pc from offsets 0x%x, interpreter mepc 0x%x", pcVa + blk.offsets[hb.blockFaultIndex], ha.mepc));
                    }
                    if (trap.cause != ha.mcause) problems.add("trap cause " + trap.cause + ", interpreter " + ha.mcause);
                    if (trap.tval != ha.mtval) problems.add(String.format("trap tval 0x%x, interpreter 0x%x", trap.tval, ha.mtval));
                }
            } else if (trap != null) {
                problems.add("block trapped (cause " + trap.cause + " tval 0x" + Long.toHexString(trap.tval) + " index " + hb.blockFaultIndex + "), interpreter did not");
            } else {
                if (pc != ha.pc) problems.add(String.format("pc: block 0x%x, interpreter 0x%x", pc, ha.pc));
                if (hb.blockExecuted != steps) problems.add("blockExecuted " + hb.blockExecuted + ", interpreter ran " + steps);
            }
        }
        if (trapAt < 0 && ha.mcause != SENTINEL) problems.add("interpreter trapped");
        for (int r = 0; r < 32; r++) {
            if (ha.x[r] != hb.x[r]) problems.add(String.format("x%d: block 0x%x, interpreter 0x%x (initial 0x%x)", r, hb.x[r], ha.x[r], initial[r]));
        }
        compareMemory(SCRATCH, (int) SCRATCH_LEN, problems);
        compareMemory(BASE + ramSize - 0x1000, 0x1000, problems);
        if (!Arrays.equals(a.mmioBytes, b.mmioBytes)) problems.add("MMIO bytes differ");

        if (!problems.isEmpty()) {
            StringBuilder s = new StringBuilder(context).append('\n');
            s.append(String.format("mode %s, block at pa 0x%x va 0x%x (page offset 0x%x), expected count %d%n",
                    mode, codePa, pcVa, codePa & 0xfff, expected));
            for (String p : problems) s.append("  ").append(p).append('\n');
            s.append(listing(units, expected));
            s.append("initial registers:\n");
            for (int r = 1; r < 32; r++) s.append(String.format("  x%-2d = 0x%016x%n", r, initial[r]));
            throw new AssertionError(s.toString());
        }
        return new Outcome(trapAt, trap, pc, steps, sideExit);
    }

    private void compareMemory(long pa, int len, List<String> problems) {
        byte[] x = new byte[len], y = new byte[len];
        a.memory.read(pa, x, 0, len);
        b.memory.read(pa, y, 0, len);
        for (int i = 0; i < len; i++) {
            if (x[i] != y[i]) {
                problems.add(String.format("memory 0x%x: block 0x%02x, interpreter 0x%02x", pa + i, y[i], x[i]));
                return;
            }
        }
    }

    // ---------------------------------------------------------------- listing

    static String listing(List<Unit> units, int expected) {
        StringBuilder s = new StringBuilder();
        int off = 0;
        for (int i = 0; i < units.size(); i++) {
            Unit u = units.get(i);
            String hex = u.len() == 2 ? String.format("    %04x", u.bits() & 0xffff) : String.format("%08x", u.bits());
            String exp = u.len() == 2 ? String.format(" (= %08x)", u.word()) : "           ";
            String role = u.role() == BODY ? "    " : u.role() == EXIT ? "exit" : "stop";
            s.append(String.format("  %s%3d +0x%03x: %s%s %s  %s%n", i < expected ? " " : "-", i, off, hex, exp, role, disasm(u.word())));
            off += u.len();
        }
        return s.toString();
    }

    /** A rough RV64 disassembly of the instructions blocks may hold (others print as their opcode). */
    static String disasm(int w) {
        int op = w & 0x7f, rd = (w >>> 7) & 31, rs1 = (w >>> 15) & 31, rs2 = (w >>> 20) & 31, f3 = (w >>> 12) & 7, f7 = w >>> 25;
        int immI = w >> 20, immS = ((w >> 25) << 5) | ((w >>> 7) & 31);
        switch (op) {
            case 0x37: return String.format("lui x%d, 0x%x", rd, w >>> 12);
            case 0x17: return String.format("auipc x%d, 0x%x", rd, w >>> 12);
            case 0x13: {
                if (f3 == 1) return String.format("slli x%d, x%d, %d%s", rd, rs1, immI & 63, (w >>> 26) != 0 ? " (bad f6)" : "");
                if (f3 == 5) return String.format("%s x%d, x%d, %d", (w >>> 26) == 0x10 ? "srai" : (w >>> 26) == 0 ? "srli" : "sr?i", rd, rs1, immI & 63);
                String[] n = {"addi", "", "slti", "sltiu", "xori", "", "ori", "andi"};
                return String.format("%s x%d, x%d, %d", n[f3], rd, rs1, immI);
            }
            case 0x1b: {
                if (f3 == 0) return String.format("addiw x%d, x%d, %d", rd, rs1, immI);
                String n = f3 == 1 ? "slliw" : f3 == 5 ? (f7 == 0x20 ? "sraiw" : "srliw") : "op-imm-32?";
                return String.format("%s x%d, x%d, %d", n, rd, rs1, rs2);
            }
            case 0x33, 0x3b: {
                String[] base = {"add", "sll", "slt", "sltu", "xor", "srl", "or", "and"};
                String[] m = {"mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu"};
                String n = f7 == 1 ? m[f3] : f7 == 0x20 ? (f3 == 0 ? "sub" : f3 == 5 ? "sra" : "?") : f7 == 0 ? base[f3] : "?";
                return String.format("%s%s x%d, x%d, x%d", n, op == 0x3b ? "w" : "", rd, rs1, rs2);
            }
            case 0x03: {
                String[] n = {"lb", "lh", "lw", "ld", "lbu", "lhu", "lwu", "l?"};
                return String.format("%s x%d, %d(x%d)", n[f3], rd, immI, rs1);
            }
            case 0x23: {
                String[] n = {"sb", "sh", "sw", "sd", "s?", "s?", "s?", "s?"};
                return String.format("%s x%d, %d(x%d)", n[f3], rs2, immS, rs1);
            }
            case 0x63: {
                String[] n = {"beq", "bne", "b?", "b?", "blt", "bge", "bltu", "bgeu"};
                int imm = ((w >> 31) << 12) | (((w >>> 7) & 1) << 11) | (((w >>> 25) & 0x3f) << 5) | (((w >>> 8) & 0xf) << 1);
                return String.format("%s x%d, x%d, %+d", n[f3], rs1, rs2, imm);
            }
            case 0x6f: {
                int imm = ((w >> 31) << 20) | (w & 0xff000) | (((w >>> 20) & 1) << 11) | (((w >>> 21) & 0x3ff) << 1);
                return String.format("jal x%d, %+d", rd, imm);
            }
            case 0x67: return String.format("jalr x%d, %d(x%d)", rd, immI, rs1);
            case 0x73: return "system";
            case 0x0f: return "fence";
            case 0x2f: return "amo";
            default: return String.format("opcode 0x%02x", op);
        }
    }

    // ---------------------------------------------------------------- special register values

    static final long[] SPECIAL = {
            0, 1, -1, 2, -2, 3, -3, 5, 7, 31, 32, 33, 63, 64, 65, -31, -32, -63, -64,
            Long.MIN_VALUE, Long.MAX_VALUE, Long.MIN_VALUE + 1,
            Integer.MIN_VALUE, Integer.MAX_VALUE, 0x8000_0000L, 0xffff_ffffL, 0x1_0000_0000L, 0x7fff_fffe_ffff_ffffL,
            0xffff_ffff_7fff_ffffL, 0xffff_ffff_0000_0000L, 0x0000_0000_8000_0001L, -0x800, 0x7ff, 0x800, 0xfff,
            0x8000_0000_0000_0001L, 0x5555_5555_5555_5555L, 0xaaaa_aaaa_aaaa_aaaaL, BASE, MMIO,
    };
}
