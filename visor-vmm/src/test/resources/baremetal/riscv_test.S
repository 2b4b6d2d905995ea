# A small riscv-tests style framework for Visor's bare-metal tests, in GNU as macros (no C preprocessor).
#
#   .include "riscv_test.S"
#   RVTEST_CODE_BEGIN            # hart 0 runs the tests, other harts park (RVTEST_CODE_BEGIN 2: harts 0 and 1 run)
#   TEST_RR_OP 2, add, 3, 1, 2   # test 2: add x14 = 1 + 2, expect 3
#   ...
#   TEST_PASSFAIL
#   RVTEST_CODE_END
#   RVTEST_DATA_BEGIN
#   ...data...
#   RVTEST_DATA_END
#
# gp holds the number of the running test. Pass writes 1 to tohost; failure writes (testnum << 1) | 1,
# so the HTIF exit code is the failing test's number. An unexpected trap fails the current test (or
# reports 1337 before the first one) and leaves mcause/mepc/mtval in trap_cause/trap_epc/trap_tval.

.macro RVTEST_CODE_BEGIN harts=1
    .section .text.init, "ax", @progbits
    .globl _start
_start:
    # a known state: every integer register but a0 (hart id) cleared
    li x1, 0; li x2, 0; li x3, 0; li x4, 0; li x5, 0; li x6, 0; li x7, 0; li x8, 0; li x9, 0
    li x11, 0; li x12, 0; li x13, 0; li x14, 0; li x15, 0; li x16, 0; li x17, 0; li x18, 0; li x19, 0
    li x20, 0; li x21, 0; li x22, 0; li x23, 0; li x24, 0; li x25, 0; li x26, 0; li x27, 0; li x28, 0
    li x29, 0; li x30, 0; li x31, 0
    csrr a0, mhartid
    li t0, \harts
    bgeu a0, t0, rvtest_park
    # a stack per hart (4 KiB each, top down)
    la sp, rvtest_stacks + 4096
    slli t0, a0, 12
    add sp, sp, t0
    la t0, rvtest_trap
    csrw mtvec, t0
    csrwi medeleg, 0
    csrwi mideleg, 0
    csrwi mie, 0
    csrwi satp, 0
    # FP on (FS = Initial) so F/D programs need not, and fcsr cleared
    li t0, (1 << 13)
    csrs mstatus, t0
    csrwi fcsr, 0
    li gp, 0
    j rvtest_main
rvtest_park:
    wfi
    j rvtest_park

    # default trap handler: any trap is a failure (mtvec needs a 4-byte aligned base)
    .align 2
rvtest_trap:
    csrr t5, mcause
    la t6, trap_cause
    sd t5, 0(t6)
    csrr t5, mepc
    sd t5, 8(t6)
    csrr t5, mtval
    sd t5, 16(t6)
    bnez gp, fail
    li gp, 1337
    j fail

    .text
rvtest_main:
.endm

.macro RVTEST_CODE_END
    .section .text.init, "ax", @progbits
rvtest_end_spin:
    j rvtest_end_spin
    .text
.endm

# Writes the exit report in \reg (already encoded) to tohost, then waits to be stopped.
.macro RVTEST_REPORT reg
    fence
    la t6, tohost
    sd \reg, 0(t6)
1:  j 1b
.endm

.macro RVTEST_PASS
    li t5, 1
    RVTEST_REPORT t5
.endm

.macro RVTEST_FAIL
    slli t5, gp, 1
    ori t5, t5, 1
    RVTEST_REPORT t5
.endm

# Ends the test sequence: falls into pass; failing tests branch to "fail".
.macro TEST_PASSFAIL
pass:
    RVTEST_PASS
fail:
    RVTEST_FAIL
.endm

.macro RVTEST_DATA_BEGIN
    .pushsection .tohost, "aw", @progbits
    .align 6
    .globl tohost
tohost: .dword 0
    .align 6
    .globl fromhost
fromhost: .dword 0
    .popsection
    .bss
    .align 12
rvtest_stacks: .space 4096 * 4
    .data
    .align 4
trap_cause: .dword 0, 0, 0
.endm

.macro RVTEST_DATA_END
.endm

# ---------------------------------------------------------------- test macros (riscv-tests names)

# test \n: run \code (a quoted string of ;-separated instructions), then \reg must equal \expect
.macro TEST_CASE n, reg, expect, code
test_\n:
    li gp, \n
    \code
    li t2, \expect
    bne \reg, t2, fail
.endm

# register-register op: x14 = \op(\a, \b)
.macro TEST_RR_OP n, op, expect, a, b
    TEST_CASE \n, x14, \expect, "li x1, \a; li x2, \b; \op x14, x1, x2"
.endm

# same with the destination also a source
.macro TEST_RR_SRC1_EQ_DEST n, op, expect, a, b
    TEST_CASE \n, x1, \expect, "li x1, \a; li x2, \b; \op x1, x1, x2"
.endm

# register-immediate op: x14 = \op(\a, \imm)
.macro TEST_IMM_OP n, op, expect, a, imm
    TEST_CASE \n, x14, \expect, "li x1, \a; \op x14, x1, \imm"
.endm

# load \op from \base + \off, expect \expect
.macro TEST_LD_OP n, op, expect, off, base
    TEST_CASE \n, x14, \expect, "la x1, \base; \op x14, \off(x1)"
.endm

# store \val with \st at \base + \off, read back with \ld
.macro TEST_ST_OP n, ld, st, val, off, base
    TEST_CASE \n, x14, \val, "la x1, \base; li x2, \val; \st x2, \off(x1); \ld x14, \off(x1)"
.endm

# branch \op on \a, \b: must be taken
.macro TEST_BR_TAKEN n, op, a, b
test_\n:
    li gp, \n
    li x1, \a
    li x2, \b
    \op x1, x2, 2f
    j fail
2:
.endm

# branch \op on \a, \b: must not be taken
.macro TEST_BR_NOT_TAKEN n, op, a, b
test_\n:
    li gp, \n
    li x1, \a
    li x2, \b
    \op x1, x2, 3f
    j 4f
3:  j fail
4:
.endm
