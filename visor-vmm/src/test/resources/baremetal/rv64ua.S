# RV64A: every AMO in both widths (old value returned, .w sign-extended, memory updated) and LR/SC.
    .include "riscv_test.S"

# \op on a \w-sized word holding \init with source \src: rd must be \old, memory then \new
.macro TEST_AMO n, op, ld, init, src, old, new
test_\n:
    li gp, \n
    la a0, amo_word
    li t0, \init
    sd t0, 0(a0)
    li a1, \src
    \op a2, a1, (a0)
    li t2, \old
    bne a2, t2, fail
    \ld a3, 0(a0)
    li t2, \new
    bne a3, t2, fail
.endm

    RVTEST_CODE_BEGIN
    TEST_AMO 2,  amoadd.w,  lw, 0x00000000ffffffff, 1, 0xffffffffffffffff, 0
    TEST_AMO 3,  amoadd.w,  lw, 0x000000007fffffff, 1, 0x000000007fffffff, 0xffffffff80000000
    TEST_AMO 4,  amoswap.w, lw, 0x0000000080000000, 0x1234, 0xffffffff80000000, 0x1234
    TEST_AMO 5,  amoxor.w,  lw, 0x00000000ff00ff00, 0x0ff00ff0, 0xffffffffff00ff00, 0xfffffffff0f0f0f0
    TEST_AMO 6,  amoand.w,  lw, 0x00000000ff00ff00, 0x0ff00ff0, 0xffffffffff00ff00, 0x000000000f000f00
    TEST_AMO 7,  amoor.w,   lw, 0x00000000ff00ff00, 0x0ff00ff0, 0xffffffffff00ff00, 0xfffffffffff0fff0
    TEST_AMO 8,  amomin.w,  lw, 0x0000000080000000, 1, 0xffffffff80000000, 0xffffffff80000000
    TEST_AMO 9,  amomax.w,  lw, 0x0000000080000000, 1, 0xffffffff80000000, 1
    TEST_AMO 10, amominu.w, lw, 0x0000000080000000, 1, 0xffffffff80000000, 1
    TEST_AMO 11, amomaxu.w, lw, 0x0000000080000000, 1, 0xffffffff80000000, 0xffffffff80000000
    TEST_AMO 12, amomin.w,  lw, 0x0000000000000005, 0xffffffff00000007, 5, 5
    TEST_AMO 13, amomaxu.w, lw, 0x0000000000000005, 0xffffffff00000007, 5, 7
    TEST_AMO 14, amoadd.d,  ld, 0x7fffffffffffffff, 1, 0x7fffffffffffffff, 0x8000000000000000
    TEST_AMO 15, amoswap.d, ld, 0x8000000000000000, 5, 0x8000000000000000, 5
    TEST_AMO 16, amoxor.d,  ld, 0xffffffffffffffff, 0xff, 0xffffffffffffffff, 0xffffffffffffff00
    TEST_AMO 17, amoand.d,  ld, 0xffffffff00000000, 0xffff0000ffff0000, 0xffffffff00000000, 0xffff000000000000
    TEST_AMO 18, amoor.d,   ld, 0x0000000000000f00, 0x00000000000000f0, 0x0000000000000f00, 0x0000000000000ff0
    TEST_AMO 19, amomin.d,  ld, 0x8000000000000000, 1, 0x8000000000000000, 0x8000000000000000
    TEST_AMO 20, amomax.d,  ld, 0x8000000000000000, 1, 0x8000000000000000, 1
    TEST_AMO 21, amominu.d, ld, 0x8000000000000000, 1, 0x8000000000000000, 1
    TEST_AMO 22, amomaxu.d, ld, 0x8000000000000000, 1, 0x8000000000000000, 0x8000000000000000

    # a .w AMO leaves the other half of the doubleword alone
test_23:
    li gp, 23
    la a0, amo_word
    li t0, 0x1111111100000005
    sd t0, 0(a0)
    li a1, 1
    amoadd.w zero, a1, (a0)
    ld a3, 0(a0)
    li t2, 0x1111111100000006
    bne a3, t2, fail

    # LR/SC: success, failure without a reservation, failure on another address
test_24:
    li gp, 24
    la a0, amo_word
    li t0, 41
    sd t0, 0(a0)
    lr.d a1, (a0)
    addi a1, a1, 1
    sc.d a2, a1, (a0)
    bnez a2, fail              # 0 = success
    ld a3, 0(a0)
    li t2, 42
    bne a3, t2, fail
test_25:
    li gp, 25
    la a0, amo_word
    li a1, 99
    sc.d a2, a1, (a0)          # no reservation (the last sc used it up)
    beqz a2, fail
    ld a3, 0(a0)
    li t2, 42
    bne a3, t2, fail
test_26:
    li gp, 26
    la a0, amo_word
    la a4, amo_word + 64
    lr.w a1, (a4)
    sc.w a2, a1, (a0)          # reserved elsewhere
    beqz a2, fail
test_27:
    li gp, 27
    la a0, amo_word
    li t0, 0xffffffff80000000
    sw t0, 0(a0)
    lr.w a1, (a0)              # sign-extended
    li t2, 0xffffffff80000000
    bne a1, t2, fail
    li a1, 7
    sc.w a2, a1, (a0)
    bnez a2, fail
    lw a3, 0(a0)
    li t2, 7
    bne a3, t2, fail
    # an LR/SC retry loop, the way compilers emit atomic increments
test_28:
    li gp, 28
    la a0, amo_word
    sd zero, 0(a0)
    li t1, 100
2:  lr.d t0, (a0)
    addi t0, t0, 3
    sc.d t3, t0, (a0)
    bnez t3, 2b
    addi t1, t1, -1
    bnez t1, 2b
    ld a3, 0(a0)
    li t2, 300
    bne a3, t2, fail

    TEST_PASSFAIL
    RVTEST_CODE_END

    RVTEST_DATA_BEGIN
    .align 6
amo_word: .dword 0
    .space 120
    RVTEST_DATA_END
