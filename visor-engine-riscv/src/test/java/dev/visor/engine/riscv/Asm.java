package dev.visor.engine.riscv;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A tiny RV64 assembler for engine tests: emits 32-bit (and, through {@link #c}, 16-bit) instruction
 * words with forward/backward labels for branches and jumps. Register numbers are plain ints (x0..x31).
 */
final class Asm {
    // ABI register names used by tests
    static final int ZERO = 0, RA = 1, SP = 2, GP = 3, TP = 4, T0 = 5, T1 = 6, T2 = 7, S0 = 8, S1 = 9,
            A0 = 10, A1 = 11, A2 = 12, A3 = 13, A4 = 14, A5 = 15, A6 = 16, A7 = 17, S2 = 18, S3 = 19, T3 = 28,
            T4 = 29, T5 = 30, T6 = 31;

    /** Bytes of code, little-endian; 16-bit words allowed. */
    private final java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    private final Map<String, Integer> labels = new HashMap<>();
    private record Fixup(int at, String label, char kind) {}
    private final List<Fixup> fixups = new ArrayList<>();
    final long origin;

    Asm(long origin) { this.origin = origin; }

    /** Current address. */
    long here() { return origin + out.size(); }

    Asm label(String name) {
        if (labels.put(name, out.size()) != null) throw new IllegalArgumentException("duplicate label " + name);
        return this;
    }

    long addressOf(String name) {
        Integer at = labels.get(name);
        if (at == null) throw new IllegalArgumentException("no label " + name);
        return origin + at;
    }

    Asm word(int w) {
        out.write(w);
        out.write(w >>> 8);
        out.write(w >>> 16);
        out.write(w >>> 24);
        return this;
    }

    /** A 16-bit (compressed) instruction. */
    Asm c(int half) {
        out.write(half);
        out.write(half >>> 8);
        return this;
    }

    byte[] bytes() {
        byte[] b = out.toByteArray();
        for (Fixup f : fixups) {
            Integer target = labels.get(f.label);
            if (target == null) throw new IllegalArgumentException("undefined label " + f.label);
            int off = target - f.at;
            int w = (b[f.at] & 0xff) | (b[f.at + 1] & 0xff) << 8 | (b[f.at + 2] & 0xff) << 16 | (b[f.at + 3] & 0xff) << 24;
            if (f.kind == 'a') { // auipc rd + addi rd,rd: pc-relative address
                int hi = (off + 0x800) >> 12, lo = off - (hi << 12);
                int rd = (w >>> 7) & 31;
                w = (hi << 12) | (rd << 7) | 0x17;
                int w2 = Rvc.iType(lo, rd, 0, rd, 0x13);
                b[f.at + 4] = (byte) w2;
                b[f.at + 5] = (byte) (w2 >>> 8);
                b[f.at + 6] = (byte) (w2 >>> 16);
                b[f.at + 7] = (byte) (w2 >>> 24);
            } else if (f.kind == 'b') {
                if (off < -4096 || off > 4094) throw new IllegalArgumentException("branch out of range");
                w = Rvc.bType(off, (w >>> 20) & 31, (w >>> 15) & 31, (w >>> 12) & 7);
            } else {
                w = Rvc.jType(off, (w >>> 7) & 31);
            }
            b[f.at] = (byte) w;
            b[f.at + 1] = (byte) (w >>> 8);
            b[f.at + 2] = (byte) (w >>> 16);
            b[f.at + 3] = (byte) (w >>> 24);
        }
        return b;
    }

    // ---------------------------------------------------------------- formats

    static int r(int f7, int rs2, int rs1, int f3, int rd, int op) { return Rvc.rType(f7, rs2, rs1, f3, rd, op); }
    static int i(int imm, int rs1, int f3, int rd, int op) {
        if (imm < -2048 || imm > 4095) throw new IllegalArgumentException("imm12 out of range: " + imm);
        return Rvc.iType(imm, rs1, f3, rd, op);
    }
    static int s(int imm, int rs2, int rs1, int f3, int op) {
        if (imm < -2048 || imm > 2047) throw new IllegalArgumentException("imm12 out of range: " + imm);
        return Rvc.sType(imm, rs2, rs1, f3, op);
    }

    // ---------------------------------------------------------------- RV64I

    Asm lui(int rd, int imm20) { return word((imm20 << 12) | (rd << 7) | 0x37); }
    Asm auipc(int rd, int imm20) { return word((imm20 << 12) | (rd << 7) | 0x17); }
    Asm addi(int rd, int rs1, int imm) { return word(i(imm, rs1, 0, rd, 0x13)); }
    Asm slti(int rd, int rs1, int imm) { return word(i(imm, rs1, 2, rd, 0x13)); }
    Asm sltiu(int rd, int rs1, int imm) { return word(i(imm, rs1, 3, rd, 0x13)); }
    Asm xori(int rd, int rs1, int imm) { return word(i(imm, rs1, 4, rd, 0x13)); }
    Asm ori(int rd, int rs1, int imm) { return word(i(imm, rs1, 6, rd, 0x13)); }
    Asm andi(int rd, int rs1, int imm) { return word(i(imm, rs1, 7, rd, 0x13)); }
    Asm slli(int rd, int rs1, int sh) { return word(i(sh, rs1, 1, rd, 0x13)); }
    Asm srli(int rd, int rs1, int sh) { return word(i(sh, rs1, 5, rd, 0x13)); }
    Asm srai(int rd, int rs1, int sh) { return word(i(0x400 | sh, rs1, 5, rd, 0x13)); }
    Asm addiw(int rd, int rs1, int imm) { return word(i(imm, rs1, 0, rd, 0x1b)); }
    Asm slliw(int rd, int rs1, int sh) { return word(i(sh, rs1, 1, rd, 0x1b)); }
    Asm srliw(int rd, int rs1, int sh) { return word(i(sh, rs1, 5, rd, 0x1b)); }
    Asm sraiw(int rd, int rs1, int sh) { return word(i(0x400 | sh, rs1, 5, rd, 0x1b)); }

    Asm op(int f7, int f3, int rd, int rs1, int rs2) { return word(r(f7, rs2, rs1, f3, rd, 0x33)); }
    Asm op32(int f7, int f3, int rd, int rs1, int rs2) { return word(r(f7, rs2, rs1, f3, rd, 0x3b)); }
    Asm add(int rd, int rs1, int rs2) { return op(0, 0, rd, rs1, rs2); }
    Asm sub(int rd, int rs1, int rs2) { return op(0x20, 0, rd, rs1, rs2); }
    Asm sll(int rd, int rs1, int rs2) { return op(0, 1, rd, rs1, rs2); }
    Asm slt(int rd, int rs1, int rs2) { return op(0, 2, rd, rs1, rs2); }
    Asm sltu(int rd, int rs1, int rs2) { return op(0, 3, rd, rs1, rs2); }
    Asm xor(int rd, int rs1, int rs2) { return op(0, 4, rd, rs1, rs2); }
    Asm srl(int rd, int rs1, int rs2) { return op(0, 5, rd, rs1, rs2); }
    Asm sra(int rd, int rs1, int rs2) { return op(0x20, 5, rd, rs1, rs2); }
    Asm or(int rd, int rs1, int rs2) { return op(0, 6, rd, rs1, rs2); }
    Asm and(int rd, int rs1, int rs2) { return op(0, 7, rd, rs1, rs2); }
    Asm addw(int rd, int rs1, int rs2) { return op32(0, 0, rd, rs1, rs2); }
    Asm subw(int rd, int rs1, int rs2) { return op32(0x20, 0, rd, rs1, rs2); }
    Asm sllw(int rd, int rs1, int rs2) { return op32(0, 1, rd, rs1, rs2); }
    Asm srlw(int rd, int rs1, int rs2) { return op32(0, 5, rd, rs1, rs2); }
    Asm sraw(int rd, int rs1, int rs2) { return op32(0x20, 5, rd, rs1, rs2); }

    // M
    Asm mul(int rd, int rs1, int rs2) { return op(1, 0, rd, rs1, rs2); }
    Asm mulh(int rd, int rs1, int rs2) { return op(1, 1, rd, rs1, rs2); }
    Asm mulhsu(int rd, int rs1, int rs2) { return op(1, 2, rd, rs1, rs2); }
    Asm mulhu(int rd, int rs1, int rs2) { return op(1, 3, rd, rs1, rs2); }
    Asm div(int rd, int rs1, int rs2) { return op(1, 4, rd, rs1, rs2); }
    Asm divu(int rd, int rs1, int rs2) { return op(1, 5, rd, rs1, rs2); }
    Asm rem(int rd, int rs1, int rs2) { return op(1, 6, rd, rs1, rs2); }
    Asm remu(int rd, int rs1, int rs2) { return op(1, 7, rd, rs1, rs2); }
    Asm mulw(int rd, int rs1, int rs2) { return op32(1, 0, rd, rs1, rs2); }
    Asm divw(int rd, int rs1, int rs2) { return op32(1, 4, rd, rs1, rs2); }
    Asm divuw(int rd, int rs1, int rs2) { return op32(1, 5, rd, rs1, rs2); }
    Asm remw(int rd, int rs1, int rs2) { return op32(1, 6, rd, rs1, rs2); }
    Asm remuw(int rd, int rs1, int rs2) { return op32(1, 7, rd, rs1, rs2); }

    // loads / stores
    Asm lb(int rd, int rs1, int off) { return word(i(off, rs1, 0, rd, 0x03)); }
    Asm lh(int rd, int rs1, int off) { return word(i(off, rs1, 1, rd, 0x03)); }
    Asm lw(int rd, int rs1, int off) { return word(i(off, rs1, 2, rd, 0x03)); }
    Asm ld(int rd, int rs1, int off) { return word(i(off, rs1, 3, rd, 0x03)); }
    Asm lbu(int rd, int rs1, int off) { return word(i(off, rs1, 4, rd, 0x03)); }
    Asm lhu(int rd, int rs1, int off) { return word(i(off, rs1, 5, rd, 0x03)); }
    Asm lwu(int rd, int rs1, int off) { return word(i(off, rs1, 6, rd, 0x03)); }
    Asm sb(int rs2, int rs1, int off) { return word(s(off, rs2, rs1, 0, 0x23)); }
    Asm sh(int rs2, int rs1, int off) { return word(s(off, rs2, rs1, 1, 0x23)); }
    Asm sw(int rs2, int rs1, int off) { return word(s(off, rs2, rs1, 2, 0x23)); }
    Asm sd(int rs2, int rs1, int off) { return word(s(off, rs2, rs1, 3, 0x23)); }

    // control flow
    Asm branch(int f3, int rs1, int rs2, String target) {
        fixups.add(new Fixup(out.size(), target, 'b'));
        return word(Rvc.bType(0, rs2, rs1, f3));
    }
    Asm beq(int rs1, int rs2, String t) { return branch(0, rs1, rs2, t); }
    Asm bne(int rs1, int rs2, String t) { return branch(1, rs1, rs2, t); }
    Asm blt(int rs1, int rs2, String t) { return branch(4, rs1, rs2, t); }
    Asm bge(int rs1, int rs2, String t) { return branch(5, rs1, rs2, t); }
    Asm bltu(int rs1, int rs2, String t) { return branch(6, rs1, rs2, t); }
    Asm bgeu(int rs1, int rs2, String t) { return branch(7, rs1, rs2, t); }
    Asm jal(int rd, String target) {
        fixups.add(new Fixup(out.size(), target, 'j'));
        return word(Rvc.jType(0, rd));
    }
    Asm j(String target) { return jal(0, target); }
    Asm jalr(int rd, int rs1, int off) { return word(i(off, rs1, 0, rd, 0x67)); }
    /** An infinite loop at this address ({@code j .}). */
    Asm spin() { return word(Rvc.jType(0, 0)); }

    // system
    Asm ecall() { return word(0x00000073); }
    Asm ebreak() { return word(0x00100073); }
    Asm mret() { return word(0x30200073); }
    Asm sret() { return word(0x10200073); }
    Asm wfi() { return word(0x10500073); }
    Asm sfenceVma(int rs1, int rs2) { return word(r(0x09, rs2, rs1, 0, 0, 0x73)); }
    Asm fence() { return word(0x0ff0000f); }
    Asm fenceI() { return word(0x0000100f); }
    Asm csrrw(int rd, int csr, int rs1) { return word(i(csr, rs1, 1, rd, 0x73)); }
    Asm csrrs(int rd, int csr, int rs1) { return word(i(csr, rs1, 2, rd, 0x73)); }
    Asm csrrc(int rd, int csr, int rs1) { return word(i(csr, rs1, 3, rd, 0x73)); }
    Asm csrrwi(int rd, int csr, int uimm) { return word(i(csr, uimm, 5, rd, 0x73)); }
    Asm csrrsi(int rd, int csr, int uimm) { return word(i(csr, uimm, 6, rd, 0x73)); }
    Asm csrrci(int rd, int csr, int uimm) { return word(i(csr, uimm, 7, rd, 0x73)); }
    Asm csrr(int rd, int csr) { return csrrs(rd, csr, 0); }
    Asm csrw(int csr, int rs1) { return csrrw(0, csr, rs1); }
    Asm csrs(int csr, int rs1) { return csrrs(0, csr, rs1); }
    Asm csrc(int csr, int rs1) { return csrrc(0, csr, rs1); }
    Asm csrsi(int csr, int uimm) { return csrrsi(0, csr, uimm); }
    Asm csrci(int csr, int uimm) { return csrrci(0, csr, uimm); }

    // A: funct5 in bits 31:27, aq/rl clear
    static final int AMOADD = 0x00, AMOSWAP = 0x01, LR = 0x02, SC = 0x03, AMOXOR = 0x04, AMOOR = 0x08,
            AMOAND = 0x0c, AMOMIN = 0x10, AMOMAX = 0x14, AMOMINU = 0x18, AMOMAXU = 0x1c;
    Asm amo(int funct5, boolean dword, int rd, int rs1, int rs2) {
        return word(r(funct5 << 2, rs2, rs1, dword ? 3 : 2, rd, 0x2f));
    }
    Asm lrW(int rd, int rs1) { return amo(LR, false, rd, rs1, 0); }
    Asm lrD(int rd, int rs1) { return amo(LR, true, rd, rs1, 0); }
    Asm scW(int rd, int rs1, int rs2) { return amo(SC, false, rd, rs1, rs2); }
    Asm scD(int rd, int rs1, int rs2) { return amo(SC, true, rd, rs1, rs2); }

    /** Loads the address of {@code label} (auipc + addi, resolved when the bytes are taken). */
    Asm la(int rd, String label) {
        fixups.add(new Fixup(out.size(), label, 'a'));
        auipc(rd, 0);
        return addi(rd, rd, 0);
    }

    /** Loads any 64-bit constant (lui/addiw, then shifts and addis for wider values). */
    Asm li(int rd, long v) {
        if (v == (int) v) {
            int hi = (int) ((v + 0x800) >> 12);
            int lo = (int) (v - ((long) hi << 12));
            if (hi != 0) {
                lui(rd, hi & 0xfffff);
                if (lo != 0) addiw(rd, rd, lo);
            } else {
                addi(rd, 0, lo);
            }
            return this;
        }
        long lo12 = (v << 52) >> 52;
        long hi = (v - lo12) >> 12;
        int shamt = 12;
        while ((hi & 1) == 0) {
            hi >>= 1;
            shamt++;
        }
        li(rd, hi);
        slli(rd, rd, shamt);
        if (lo12 != 0) addi(rd, rd, (int) lo12);
        return this;
    }
}
