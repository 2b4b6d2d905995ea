# RVC: compressed instructions written out explicitly (c.* mnemonics) and checked like any other.
    .include "riscv_test.S"
    RVTEST_CODE_BEGIN
    .option rvc
    TEST_CASE 2, a0, 5, "c.li a0, 5"
    TEST_CASE 3, a0, -27, "c.li a0, 5; c.addi a0, -32"
    TEST_CASE 4, a1, 0x12000, "c.lui a1, 0x12"
    TEST_CASE 5, a1, 0xfffffffffffe0000, "c.lui a1, 0xfffe0"
    TEST_CASE 6, s0, 0x7fffffff, "li s0, 0xffffffff7fffffff; c.addiw s0, 0"
    TEST_CASE 7, s0, 0xffffffff80000000, "li s0, 0x7fffffff; c.addiw s0, 1"
    TEST_CASE 8, a2, 0x40, "c.li a2, 1; c.slli a2, 6"
    TEST_CASE 9, a2, 1, "li a2, 0x8000000000000000; c.srli a2, 63"
    TEST_CASE 10, a2, -1, "li a2, 0x8000000000000000; c.srai a2, 63"
    TEST_CASE 11, a2, 0x0a, "li a2, 0xfa; c.andi a2, 15"
    TEST_CASE 12, a3, 2, "c.li a3, 7; c.li a4, 5; c.sub a3, a4"
    TEST_CASE 13, a3, 2, "c.li a3, 7; c.li a4, 5; c.xor a3, a4"
    TEST_CASE 14, a3, 7, "c.li a3, 2; c.li a4, 5; c.or a3, a4"
    TEST_CASE 15, a3, 4, "c.li a3, 6; c.li a4, 5; c.and a3, a4"
    TEST_CASE 16, a3, 0xffffffff80000000, "li a3, 0x7fffffff; c.li a4, 1; c.addw a3, a4"
    TEST_CASE 17, a3, 0x7fffffff, "li a3, 0x80000000; c.li a4, 1; c.subw a3, a4"
    TEST_CASE 18, a5, 9, "c.li a5, 4; c.li t0, 5; c.add a5, t0"
    TEST_CASE 19, a5, 5, "c.li t0, 5; c.mv a5, t0"
    # stack-pointer forms
    TEST_CASE 20, a0, 0x1122334455667788, "li a1, 0x1122334455667788; c.addi16sp sp, -64; c.sdsp a1, 8(sp); c.ldsp a0, 8(sp); c.addi16sp sp, 64"
    TEST_CASE 21, a0, 0xffffffff80000001, "li a1, 0x80000001; c.addi16sp sp, -64; c.swsp a1, 4(sp); c.lwsp a0, 4(sp); c.addi16sp sp, 64"
    TEST_CASE 22, s1, 16, "mv s1, sp; c.addi4spn s1, sp, 16; sub s1, s1, sp"
    # register-based loads/stores
    TEST_CASE 23, a0, 0xfffffffffedcba98, "la s0, cdat; li a1, 0xfedcba98; c.sw a1, 0(s0); c.lw a0, 0(s0)"
    TEST_CASE 24, a0, 0x0123456789abcdef, "la s0, cdat; li a1, 0x0123456789abcdef; c.sd a1, 8(s0); c.ld a0, 8(s0)"
    # jumps and branches
test_25:
    li gp, 25
    c.li a0, 0
    c.j 1f
    c.li a0, 1
1:  c.bnez a0, fail_far
    c.beqz a0, 2f
    c.j fail_far
2:  la t0, 3f
    c.jalr t0
4:  c.j 5f
3:  la t1, 4b
    bne ra, t1, fail
    c.jr ra
5:
    # c.ebreak traps with cause 3: use a private handler
test_26:
    li gp, 26
    la t0, 7f
    csrw mtvec, t0
    c.ebreak
6:  j fail
    .align 2
7:  csrr t0, mcause
    li t1, 3
    bne t0, t1, fail
    csrr t0, mepc
    la t1, 6b - 2
    bne t0, t1, fail
    la t0, rvtest_trap
    csrw mtvec, t0
    j 8f
fail_far:
    j fail
8:
    TEST_PASSFAIL
    RVTEST_CODE_END
    RVTEST_DATA_BEGIN
    .align 3
cdat: .dword 0, 0
    RVTEST_DATA_END
