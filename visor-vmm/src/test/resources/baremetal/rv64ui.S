# RV64I: arithmetic, logic, shifts, compares, upper immediates, branches, jumps, loads and stores.
    .include "riscv_test.S"
    RVTEST_CODE_BEGIN

    # add / sub / addi / addw / subw / addiw
    TEST_RR_OP 2, add, 0x00000000, 0x00000000, 0x00000000
    TEST_RR_OP 3, add, 0x0000000000000002, 1, 1
    TEST_RR_OP 4, add, 0xffffffff80000000, 0xffffffff80000000, 0
    TEST_RR_OP 5, add, 0x8000000000000000, 0x7fffffffffffffff, 1
    TEST_RR_OP 6, sub, 0xffffffffffffffff, 0, 1
    TEST_RR_OP 7, sub, 0x7fffffffffffffff, 0x8000000000000000, 1
    TEST_IMM_OP 8, addi, 0xfffffffffffff800, 0, -2048
    TEST_IMM_OP 9, addi, 0x80000000000007fe, 0x7fffffffffffffff, 2047
    TEST_RR_OP 10, addw, 0xffffffff80000000, 0x7fffffff, 1
    TEST_RR_OP 11, subw, 0x000000007fffffff, 0xffffffff80000000, 1
    TEST_IMM_OP 12, addiw, 0xffffffffffffffff, 0x1234567800000000, -1
    TEST_IMM_OP 13, addiw, 0x0000000000000005, 0xffffffff00000005, 0
    TEST_RR_SRC1_EQ_DEST 14, add, 24, 13, 11

    # logic
    TEST_RR_OP 15, and, 0x0f000f00, 0xff00ff00, 0x0f0f0f0f
    TEST_RR_OP 16, or,  0xff0fff0f, 0xff00ff00, 0x0f0f0f0f
    TEST_RR_OP 17, xor, 0xf00ff00f, 0xff00ff00, 0x0f0f0f0f
    TEST_IMM_OP 18, andi, 0x00000000000000f0, 0x0ff00ff0, 0x0f0
    TEST_IMM_OP 19, ori, 0xffffffffffffff0f, 0x0f, -241
    TEST_IMM_OP 20, xori, 0xfffffffffffff0f0, 0x0f0f, -1

    # shifts, including the 6-bit amount and the W forms
    TEST_RR_OP 21, sll, 0x8000000000000000, 1, 63
    TEST_RR_OP 22, sll, 0x0000000000000001, 1, 64
    TEST_RR_OP 23, srl, 0x0000000000000001, 0x8000000000000000, 63
    TEST_RR_OP 24, sra, 0xffffffffffffffff, 0x8000000000000000, 63
    TEST_IMM_OP 25, slli, 0x8000000000000000, 1, 63
    TEST_IMM_OP 26, srli, 0x0000000000000001, 0x8000000000000000, 63
    TEST_IMM_OP 27, srai, 0xffffffffff000000, 0x8000000000000000, 39
    TEST_RR_OP 28, sllw, 0xffffffff80000000, 1, 31
    TEST_RR_OP 29, sllw, 0x0000000000000001, 1, 32
    TEST_RR_OP 30, srlw, 0x0000000000000001, 0xffffffff80000000, 31
    TEST_RR_OP 31, sraw, 0xffffffffffffffff, 0x0000000080000000, 31
    TEST_IMM_OP 32, slliw, 0xffffffff80000000, 1, 31
    TEST_IMM_OP 33, srliw, 0x0000000000000001, 0xffffffff80000000, 31
    TEST_IMM_OP 34, srliw, 0xffffffff80000000, 0x0000000080000000, 0
    TEST_IMM_OP 35, sraiw, 0xffffffffc0000000, 0x1234567880000000, 1
    TEST_IMM_OP 36, srliw, 0x0000000040000000, 0x1234567880000000, 1

    # compares
    TEST_RR_OP 37, slt,  1, 0xffffffffffffffff, 1
    TEST_RR_OP 38, slt,  0, 1, 0xffffffffffffffff
    TEST_RR_OP 39, sltu, 0, 0xffffffffffffffff, 1
    TEST_RR_OP 40, sltu, 1, 1, 0xffffffffffffffff
    TEST_IMM_OP 41, slti, 1, 0x8000000000000000, 0
    TEST_IMM_OP 42, sltiu, 1, 5, -1
    TEST_IMM_OP 43, sltiu, 0, 0xffffffffffffffff, -1

    # upper immediates
    TEST_CASE 44, x14, 0xffffffff80000000, "lui x14, 0x80000"
    TEST_CASE 45, x14, 0x0000000000001000, "lui x14, 1"
    TEST_CASE 46, x14, 8, "auipc x1, 0; auipc x14, 0; sub x14, x14, x1; addi x14, x14, 4"

    # branches
    TEST_BR_TAKEN 47, beq, 5, 5
    TEST_BR_NOT_TAKEN 48, beq, 5, 6
    TEST_BR_TAKEN 49, bne, 5, 6
    TEST_BR_NOT_TAKEN 50, bne, 5, 5
    TEST_BR_TAKEN 51, blt, -1, 1
    TEST_BR_NOT_TAKEN 52, blt, 1, -1
    TEST_BR_TAKEN 53, bge, 1, -1
    TEST_BR_TAKEN 54, bge, 1, 1
    TEST_BR_NOT_TAKEN 55, bge, -1, 1
    TEST_BR_TAKEN 56, bltu, 1, -1
    TEST_BR_NOT_TAKEN 57, bltu, -1, 1
    TEST_BR_TAKEN 58, bgeu, -1, 1
    TEST_BR_NOT_TAKEN 59, bgeu, 1, -1

    # jal / jalr: link values and targets
test_60:
    li gp, 60
    jal x1, 1f
2:  j fail
1:  la x2, 2b
    bne x1, x2, fail
test_61:
    li gp, 61
    la x3, 3f
    addi x3, x3, 1          # bit 0 of the target is ignored
    jalr x5, 0(x3)
4:  j fail
3:  la x6, 4b
    bne x5, x6, fail
test_62:
    li gp, 62
    la x3, 5f - 8
    jalr x0, 8(x3)          # offset added to rs1
    j fail
5:

    # loads: sign/zero extension of every width
    TEST_LD_OP 63, lb,  0xffffffffffffffff, 0, tdat
    TEST_LD_OP 64, lbu, 0x00000000000000ff, 0, tdat
    TEST_LD_OP 65, lh,  0x00000000000000ff, 0, tdat
    TEST_LD_OP 66, lh,  0xfffffffffffff00f, 2, tdat
    TEST_LD_OP 67, lhu, 0x000000000000f00f, 2, tdat
    TEST_LD_OP 68, lw,  0xfffffffff00f00ff, 0, tdat
    TEST_LD_OP 69, lwu, 0x00000000f00f00ff, 0, tdat
    TEST_LD_OP 70, ld,  0x0ff00ff0f00f00ff, 0, tdat
    TEST_LD_OP 71, lw,  0x000000000ff00ff0, 4, tdat
    TEST_LD_OP 72, lb,  0xfffffffffffffff0, 8, tdat
    # stores, read back
    TEST_ST_OP 73, lb, sb, 0xffffffffffffffaa, 0, sdat
    TEST_ST_OP 74, lh, sh, 0xffffffffffffaa00, 2, sdat
    TEST_ST_OP 75, lw, sw, 0xffffffffaa00aa00, 4, sdat
    TEST_ST_OP 76, ld, sd, 0x00aa00aa00aa00aa, 8, sdat
    TEST_ST_OP 77, lwu, sw, 0x00000000aa00aa00, 16, sdat
    # a store writes only its width
test_78:
    li gp, 78
    la x1, sdat + 32
    li x2, -1
    sd x2, 0(x1)
    sb x0, 3(x1)
    ld x14, 0(x1)
    li t2, 0xffffffff00ffffff
    bne x14, t2, fail
    # x0 is hard-wired
test_79:
    li gp, 79
    li x1, 5
    add x0, x1, x1
    bnez x0, fail
    la x1, tdat
    lw x0, 0(x1)
    bnez x0, fail

    TEST_PASSFAIL
    RVTEST_CODE_END

    RVTEST_DATA_BEGIN
    .align 3
tdat:   .byte 0xff, 0x00, 0x0f, 0xf0, 0xf0, 0x0f, 0xf0, 0x0f
        .byte 0xf0, 0x00, 0x00, 0x00
        .align 3
sdat:   .space 64
    RVTEST_DATA_END
