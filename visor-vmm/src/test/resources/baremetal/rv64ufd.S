# F and D smoke test: loads/stores, arithmetic, fused multiply-add, conversions, compares, moves,
# classification, sign injection, NaN boxing and fflags. Values chosen to be exact.
    .include "riscv_test.S"

# f-register op on doubles from memory: \op fa0 = op(fa1, fa2) compared bit-exactly with \expect
.macro TEST_FP_D n, op, expect, a, b
test_\n:
    li gp, \n
    li t0, \a
    fmv.d.x fa1, t0
    li t0, \b
    fmv.d.x fa2, t0
    \op fa0, fa1, fa2
    fmv.x.d t1, fa0
    li t2, \expect
    bne t1, t2, fail
.endm

.macro TEST_FP_S n, op, expect, a, b
test_\n:
    li gp, \n
    li t0, \a
    fmv.w.x fa1, t0
    li t0, \b
    fmv.w.x fa2, t0
    \op fa0, fa1, fa2
    fmv.x.w t1, fa0
    li t2, \expect
    bne t1, t2, fail
.endm

    RVTEST_CODE_BEGIN
    # doubles: 1.5 = 0x3ff8000000000000, 2.5 = 0x4004000000000000, 4.0 = 0x4010000000000000
    TEST_FP_D 2, fadd.d, 0x4010000000000000, 0x3ff8000000000000, 0x4004000000000000
    TEST_FP_D 3, fsub.d, 0xbff0000000000000, 0x3ff8000000000000, 0x4004000000000000
    TEST_FP_D 4, fmul.d, 0x400e000000000000, 0x3ff8000000000000, 0x4004000000000000
    TEST_FP_D 5, fdiv.d, 0x3fe3333333333333, 0x3ff8000000000000, 0x4004000000000000
    TEST_FP_D 6, fmin.d, 0x3ff8000000000000, 0x3ff8000000000000, 0x4004000000000000
    TEST_FP_D 7, fmax.d, 0x4004000000000000, 0x3ff8000000000000, 0x4004000000000000
    TEST_FP_D 8, fsgnjn.d, 0xbff8000000000000, 0x3ff8000000000000, 0x4004000000000000
    # singles: 1.5f = 0x3fc00000, 2.5f = 0x40200000
    TEST_FP_S 9, fadd.s, 0x40800000, 0x3fc00000, 0x40200000
    TEST_FP_S 10, fmul.s, 0x40700000, 0x3fc00000, 0x40200000
    TEST_FP_S 11, fsub.s, 0xffffffffbf800000, 0x3fc00000, 0x40200000   # fmv.x.w sign-extends
test_12:                                # fmadd.d: 1.5 * 2.5 + 4.0 = 7.75
    li gp, 12
    li t0, 0x3ff8000000000000
    fmv.d.x fa1, t0
    li t0, 0x4004000000000000
    fmv.d.x fa2, t0
    li t0, 0x4010000000000000
    fmv.d.x fa3, t0
    fmadd.d fa0, fa1, fa2, fa3
    fmv.x.d t1, fa0
    li t2, 0x401f000000000000
    bne t1, t2, fail
test_13:                                # conversions
    li gp, 13
    li t0, -7
    fcvt.d.l fa0, t0
    fcvt.w.d t1, fa0, rtz
    li t2, -7
    bne t1, t2, fail
    li t0, 0x4004000000000000           # 2.5 -> 2 (round to nearest even), 3 (up)
    fmv.d.x fa0, t0
    fcvt.l.d t1, fa0, rne
    li t2, 2
    bne t1, t2, fail
    fcvt.l.d t1, fa0, rup
    li t2, 3
    bne t1, t2, fail
    fcvt.s.d fa1, fa0
    fmv.x.w t1, fa1
    li t2, 0x40200000
    bne t1, t2, fail
test_14:                                # compares
    li gp, 14
    li t0, 0x3ff8000000000000
    fmv.d.x fa0, t0
    li t0, 0x4004000000000000
    fmv.d.x fa1, t0
    flt.d t1, fa0, fa1
    li t2, 1
    bne t1, t2, fail
    fle.d t1, fa1, fa0
    bnez t1, fail
    feq.d t1, fa0, fa0
    beqz t1, fail
test_15:                                # loads and stores, both widths
    li gp, 15
    la s0, fdat
    fld fa0, 0(s0)
    fsd fa0, 16(s0)
    ld t1, 16(s0)
    ld t2, 0(s0)
    bne t1, t2, fail
    flw fa1, 8(s0)
    fsw fa1, 24(s0)
    lwu t1, 24(s0)
    lwu t2, 8(s0)
    bne t1, t2, fail
test_16:                                # NaN boxing: a single in an f register has all-ones upper bits
    li gp, 16
    li t0, 0x3fc00000
    fmv.w.x fa0, t0
    fmv.x.d t1, fa0
    li t2, 0xffffffff3fc00000
    bne t1, t2, fail
    li t0, 0x000000003fc00000           # not boxed: reads as the canonical NaN
    fmv.d.x fa1, t0
    fadd.s fa2, fa1, fa0
    fmv.x.w t1, fa2
    li t2, 0x7fc00000
    bne t1, t2, fail
test_17:                                # fclass and fflags (invalid: sqrt(-1), inexact: 1/3)
    li gp, 17
    csrwi fflags, 0
    li t0, 0xbff0000000000000
    fmv.d.x fa0, t0
    fclass.d t1, fa0
    li t2, 1 << 1                       # negative normal
    bne t1, t2, fail
    fsqrt.d fa1, fa0
    csrr t1, fflags
    li t2, 0x10                         # NV
    bne t1, t2, fail
    fclass.d t1, fa1
    li t2, 1 << 9                       # quiet NaN
    bne t1, t2, fail
    csrwi fflags, 0
    li t0, 1
    fcvt.d.l fa0, t0
    li t0, 3
    fcvt.d.l fa1, t0
    fdiv.d fa2, fa0, fa1
    csrr t1, fflags
    li t2, 1                            # NX
    bne t1, t2, fail
test_18:                                # FP use made FS dirty
    li gp, 18
    csrr t1, mstatus
    srli t1, t1, 13
    andi t1, t1, 3
    li t2, 3
    bne t1, t2, fail
    csrr t1, mstatus
    bgez t1, fail                       # SD
    TEST_PASSFAIL
    RVTEST_CODE_END

    RVTEST_DATA_BEGIN
    .align 3
fdat: .dword 0x400921fb54442d18         # pi
      .word 0x40490fdb, 0               # pi (single)
      .dword 0, 0
    RVTEST_DATA_END
