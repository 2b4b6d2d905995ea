package dev.visor.engine.riscv;

/**
 * The C extension: every 16-bit instruction expanded once, at class load, into the 32-bit
 * instruction it stands for. Decoding a compressed instruction is then one array load; an entry of 0
 * marks a reserved or illegal encoding (0 is itself an illegal 32-bit instruction).
 */
final class Rvc {
    /** Expansion of each 16-bit pattern (index = the halfword); 0 = illegal. Entries with low bits 11 are unused. */
    static final int[] EXPAND = new int[1 << 16];

    static {
        for (int i = 0; i < 1 << 16; i++) {
            if ((i & 3) != 3) EXPAND[i] = expand(i);
        }
    }

    private Rvc() {}

    private static int bit(int v, int b) { return (v >>> b) & 1; }
    private static int bits(int v, int hi, int lo) { return (v >>> lo) & ((1 << (hi - lo + 1)) - 1); }

    static int iType(int imm, int rs1, int f3, int rd, int op) {
        return ((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
    }

    static int sType(int imm, int rs2, int rs1, int f3, int op) {
        return (((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 0x1f) << 7) | op;
    }

    static int bType(int imm, int rs2, int rs1, int f3) {
        return (bit(imm, 12) << 31) | (bits(imm, 10, 5) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12)
                | (bits(imm, 4, 1) << 8) | (bit(imm, 11) << 7) | 0x63;
    }

    static int jType(int imm, int rd) {
        return (bit(imm, 20) << 31) | (bits(imm, 10, 1) << 21) | (bit(imm, 11) << 20) | (bits(imm, 19, 12) << 12)
                | (rd << 7) | 0x6f;
    }

    static int rType(int f7, int rs2, int rs1, int f3, int rd, int op) {
        return (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
    }

    /** Sign-extends the low {@code n} bits of {@code v}. */
    private static int sext(int v, int n) { return (v << (32 - n)) >> (32 - n); }

    static int expand(int c) {
        int f3 = bits(c, 15, 13);
        int rdFull = bits(c, 11, 7), rs2Full = bits(c, 6, 2);
        int rdP = bits(c, 4, 2) + 8, rs1P = bits(c, 9, 7) + 8;
        int imm6 = sext((bit(c, 12) << 5) | bits(c, 6, 2), 6);
        switch (c & 3) {
            case 0 -> {
                switch (f3) {
                    case 0: { // c.addi4spn
                        int imm = (bits(c, 12, 11) << 4) | (bits(c, 10, 7) << 6) | (bit(c, 6) << 2) | (bit(c, 5) << 3);
                        return imm == 0 ? 0 : iType(imm, 2, 0, rdP, 0x13);
                    }
                    case 1: return iType((bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6), rs1P, 3, rdP, 0x07); // c.fld
                    case 2: return iType((bits(c, 12, 10) << 3) | (bit(c, 6) << 2) | (bit(c, 5) << 6), rs1P, 2, rdP, 0x03); // c.lw
                    case 3: return iType((bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6), rs1P, 3, rdP, 0x03); // c.ld
                    case 5: return sType((bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6), rdP, rs1P, 3, 0x27); // c.fsd
                    case 6: return sType((bits(c, 12, 10) << 3) | (bit(c, 6) << 2) | (bit(c, 5) << 6), rdP, rs1P, 2, 0x23); // c.sw
                    case 7: return sType((bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6), rdP, rs1P, 3, 0x23); // c.sd
                    default: return 0;
                }
            }
            case 1 -> {
                switch (f3) {
                    case 0: return iType(imm6, rdFull, 0, rdFull, 0x13); // c.addi (c.nop)
                    case 1: return rdFull == 0 ? 0 : iType(imm6, rdFull, 0, rdFull, 0x1b); // c.addiw
                    case 2: return iType(imm6, 0, 0, rdFull, 0x13); // c.li
                    case 3: {
                        if (rdFull == 2) { // c.addi16sp
                            int imm = sext((bit(c, 12) << 9) | (bit(c, 6) << 4) | (bit(c, 5) << 6) | (bits(c, 4, 3) << 7)
                                    | (bit(c, 2) << 5), 10);
                            return imm == 0 ? 0 : iType(imm, 2, 0, 2, 0x13);
                        }
                        int imm = sext((bit(c, 12) << 17) | (bits(c, 6, 2) << 12), 18); // c.lui
                        return imm == 0 ? 0 : (imm & 0xfffff000) | (rdFull << 7) | 0x37;
                    }
                    case 4: {
                        int rd = rs1P;
                        int shamt = (bit(c, 12) << 5) | bits(c, 6, 2);
                        switch (bits(c, 11, 10)) {
                            case 0: return iType(shamt, rd, 5, rd, 0x13); // c.srli
                            case 1: return iType(0x400 | shamt, rd, 5, rd, 0x13); // c.srai
                            case 2: return iType(imm6, rd, 7, rd, 0x13); // c.andi
                            default: {
                                int rs2 = rdP;
                                int sel = bits(c, 6, 5);
                                if (bit(c, 12) == 0) {
                                    return switch (sel) {
                                        case 0 -> rType(0x20, rs2, rd, 0, rd, 0x33); // c.sub
                                        case 1 -> rType(0, rs2, rd, 4, rd, 0x33); // c.xor
                                        case 2 -> rType(0, rs2, rd, 6, rd, 0x33); // c.or
                                        default -> rType(0, rs2, rd, 7, rd, 0x33); // c.and
                                    };
                                }
                                return switch (sel) {
                                    case 0 -> rType(0x20, rs2, rd, 0, rd, 0x3b); // c.subw
                                    case 1 -> rType(0, rs2, rd, 0, rd, 0x3b); // c.addw
                                    default -> 0;
                                };
                            }
                        }
                    }
                    case 5: { // c.j
                        int imm = sext((bit(c, 12) << 11) | (bit(c, 11) << 4) | (bits(c, 10, 9) << 8) | (bit(c, 8) << 10)
                                | (bit(c, 7) << 6) | (bit(c, 6) << 7) | (bits(c, 5, 3) << 1) | (bit(c, 2) << 5), 12);
                        return jType(imm, 0);
                    }
                    default: { // c.beqz / c.bnez
                        int imm = sext((bit(c, 12) << 8) | (bits(c, 11, 10) << 3) | (bits(c, 6, 5) << 6) | (bits(c, 4, 3) << 1)
                                | (bit(c, 2) << 5), 9);
                        return bType(imm, 0, rs1P, f3 == 6 ? 0 : 1);
                    }
                }
            }
            default -> {
                switch (f3) {
                    case 0: return iType((bit(c, 12) << 5) | rs2Full, rdFull, 1, rdFull, 0x13); // c.slli
                    case 1: return iType((bit(c, 12) << 5) | (bits(c, 6, 5) << 3) | (bits(c, 4, 2) << 6), 2, 3, rdFull, 0x07); // c.fldsp
                    case 2: return rdFull == 0 ? 0 : iType((bit(c, 12) << 5) | (bits(c, 6, 4) << 2) | (bits(c, 3, 2) << 6), 2, 2, rdFull, 0x03); // c.lwsp
                    case 3: return rdFull == 0 ? 0 : iType((bit(c, 12) << 5) | (bits(c, 6, 5) << 3) | (bits(c, 4, 2) << 6), 2, 3, rdFull, 0x03); // c.ldsp
                    case 4: {
                        if (bit(c, 12) == 0) {
                            if (rs2Full == 0) return rdFull == 0 ? 0 : iType(0, rdFull, 0, 0, 0x67); // c.jr
                            return rType(0, rs2Full, 0, 0, rdFull, 0x33); // c.mv
                        }
                        if (rs2Full == 0) {
                            if (rdFull == 0) return 0x00100073; // c.ebreak
                            return iType(0, rdFull, 0, 1, 0x67); // c.jalr
                        }
                        return rType(0, rs2Full, rdFull, 0, rdFull, 0x33); // c.add
                    }
                    case 5: return sType((bits(c, 12, 10) << 3) | (bits(c, 9, 7) << 6), rs2Full, 2, 3, 0x27); // c.fsdsp
                    case 6: return sType((bits(c, 12, 9) << 2) | (bits(c, 8, 7) << 6), rs2Full, 2, 2, 0x23); // c.swsp
                    default: return sType((bits(c, 12, 10) << 3) | (bits(c, 9, 7) << 6), rs2Full, 2, 3, 0x23); // c.sdsp
                }
            }
        }
    }
}
