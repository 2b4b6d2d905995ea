# Traps: a handler at mtvec catches illegal instructions, ecalls from M/S/U, ebreak, access faults;
# delegation of U-mode ecalls to an S-mode handler; misaligned loads and stores that must NOT trap.
    .include "riscv_test.S"

# Handler log (trap_log): +0 count, +8 mcause, +16 mepc, +24 mtval, +32 resume address (0 = skip the
# trapping instruction), +40 scause, +48 sepc (from the S-mode handler).
.macro EXPECT_TRAP n, cause, tval
    la t0, trap_log
    ld t1, 8(t0)
    li t2, \cause
    bne t1, t2, fail
    ld t1, 24(t0)
    li t2, \tval
    bne t1, t2, fail
.endm

# Sets the resume address, MPP = \priv and mepc = \target, then mret: the code at \target runs at \priv
# and its next trap to M resumes at \resume in M-mode.
.macro RUN_AT priv, target, resume
    la t0, trap_log
    la t1, \resume
    sd t1, 32(t0)
    li t0, 3 << 11
    csrc mstatus, t0
    li t0, \priv << 11
    csrs mstatus, t0
    la t0, \target
    csrw mepc, t0
    mret
.endm

    RVTEST_CODE_BEGIN
    la t0, handler
    csrw mtvec, t0

test_2:                                 # illegal instruction: mcause 2, mtval = the encoding
    li gp, 2
    .word 0xffffffff
    EXPECT_TRAP 2, 2, 0xffffffff
    la t0, trap_log
    ld t1, 0(t0)
    li t2, 1
    bne t1, t2, fail
test_3:                                 # illegal compressed instruction: mtval = the halfword, pc += 2
    li gp, 3
    .half 0x8002
    EXPECT_TRAP 3, 2, 0x8002
test_4:                                 # ecall from M
    li gp, 4
    la s0, 1f
1:  ecall
    EXPECT_TRAP 4, 11, 0
    la t0, trap_log
    ld t1, 16(t0)
    bne t1, s0, fail
test_5:                                 # ebreak
    li gp, 5
    ebreak
    la t0, trap_log                     # mtval of ebreak may be 0 or the pc: check the cause only
    ld t1, 8(t0)
    li t2, 3
    bne t1, t2, fail
test_6:                                 # ecall from U-mode
    li gp, 6
    RUN_AT 0, user_ecall, 3f
3:  EXPECT_TRAP 6, 8, 0
    csrr t1, mscratch                   # back in M-mode: M CSRs are accessible
test_7:                                 # ecall from S-mode
    li gp, 7
    RUN_AT 1, user_ecall, 4f
4:  EXPECT_TRAP 7, 9, 0
test_8:                                 # U-mode ecall delegated to S: S handler sees it, then ecalls to M
    li gp, 8
    la t0, s_handler
    csrw stvec, t0
    li t0, 1 << 8
    csrw medeleg, t0
    RUN_AT 0, user_ecall, 5f
5:  csrwi medeleg, 0
    EXPECT_TRAP 8, 9, 0                 # M saw the S handler's ecall
    la t0, trap_log
    ld t1, 40(t0)
    li t2, 8
    bne t1, t2, fail                    # S saw the U ecall
    ld t1, 48(t0)
    la t2, user_ecall
    bne t1, t2, fail
test_9:                                 # load access fault: nothing at address 0x40
    li gp, 9
    li t0, 0x40
    ld t1, 0(t0)
    EXPECT_TRAP 9, 5, 0x40
test_10:                                # store access fault
    li gp, 10
    li t0, 0x48
    sw t1, 0(t0)
    EXPECT_TRAP 10, 7, 0x48
test_11:                                # csr that does not exist
    li gp, 11
    csrr t1, 0x7c1
    EXPECT_TRAP 11, 2, 0x7c102373
test_12:                                # write to a read-only csr
    li gp, 12
    csrw mhartid, zero
    EXPECT_TRAP 12, 2, 0xf1401073
test_13:                                # U-mode touching an M csr
    li gp, 13
    RUN_AT 0, user_csr, 7f
7:  EXPECT_TRAP 13, 2, 0x34002573
test_14:                                # misaligned loads and stores work without trapping
    li gp, 14
    la t0, trap_log
    ld s1, 0(t0)                        # trap count so far
    la s0, mis
    li t1, 0x0123456789abcdef
    sd t1, 1(s0)
    ld t2, 1(s0)
    bne t1, t2, fail
    lw t2, 3(s0)
    li t3, 0x456789ab
    bne t2, t3, fail
    lhu t2, 7(s0)
    li t3, 0x0123
    bne t2, t3, fail
    ld t2, 0(t0)
    bne t2, s1, fail                    # no trap happened
test_15:                                # misaligned across a page boundary
    li gp, 15
    la s0, page_end
    li t1, 0x8877665544332211
    sd t1, -3(s0)
    ld t2, -3(s0)
    bne t1, t2, fail
    lw t2, -1(s0)
    li t3, 0x66554433
    bne t2, t3, fail
    la t0, trap_log
    ld t2, 0(t0)
    bne t2, s1, fail
test_16:                                # mret restores MIE from MPIE and sets MPIE
    li gp, 16
    li t0, 1 << 7                       # MPIE
    csrs mstatus, t0
    li t0, 1 << 3
    csrc mstatus, t0                    # MIE off
    li t0, 3 << 11
    csrs mstatus, t0                    # MPP = M
    la t0, 8f
    csrw mepc, t0
    mret
8:  csrr t1, mstatus
    andi t2, t1, 1 << 3
    beqz t2, fail
    andi t2, t1, 1 << 7
    beqz t2, fail
    li t0, 1 << 3
    csrc mstatus, t0
test_17:                                # mscratch swap
    li gp, 17
    li t0, 0x55aa
    csrw mscratch, t0
    li t1, 0x1234
    csrrw t2, mscratch, t1
    li t3, 0x55aa
    bne t2, t3, fail
    csrr t2, mscratch
    bne t2, t1, fail

    TEST_PASSFAIL

    .align 2
handler:
    la t6, trap_log
    ld t5, 0(t6)
    addi t5, t5, 1
    sd t5, 0(t6)
    csrr t5, mcause
    sd t5, 8(t6)
    csrr t5, mepc
    sd t5, 16(t6)
    csrr t5, mtval
    sd t5, 24(t6)
    ld t5, 32(t6)
    beqz t5, 1f
    sd zero, 32(t6)
    csrw mepc, t5
    li t5, 3 << 11
    csrs mstatus, t5                    # resume in M-mode
    mret
1:  csrr t5, mepc                       # skip the trapping instruction (2 or 4 bytes)
    lhu t6, 0(t5)
    andi t6, t6, 3
    addi t5, t5, 2
    addi t6, t6, -3
    bnez t6, 2f
    addi t5, t5, 2
2:  csrw mepc, t5
    mret

    .align 2
s_handler:
    la t6, trap_log
    csrr t5, scause
    sd t5, 40(t6)
    csrr t5, sepc
    sd t5, 48(t6)
    ecall

user_ecall:
    ecall
    j fail
user_csr:
    csrr a0, mscratch
    j fail

    RVTEST_CODE_END

    RVTEST_DATA_BEGIN
    .align 3
trap_log: .dword 0, 0, 0, 0, 0, 0, 0
mis: .dword 0, 0
    .align 12
    .space 4096 - 8
page_end_minus: .dword 0
page_end: .dword 0
    RVTEST_DATA_END
