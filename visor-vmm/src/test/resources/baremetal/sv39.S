# Sv39 paging: M-mode builds page tables at run time (a 1 GiB identity page for the program, a
# 4 KiB-page table for 0x40000000), enters S-mode with mret and checks translation, A/D updates,
# page faults (to M, then delegated to S), SUM and sfence.vma.
    .include "riscv_test.S"

VA = 0x40000000
PTE_V = 1
PTE_R = 2
PTE_W = 4
PTE_X = 8
PTE_U = 16
PTE_A = 64
PTE_D = 128

# t0 = PTE for physical address in \reg with \flags
.macro MAKE_PTE reg, flags
    srli t0, \reg, 12
    slli t0, t0, 10
    ori t0, t0, \flags
.endm

# The last trap M-mode saw: cause and tval (trap_log: +0 count, +8 cause, +16 epc, +24 tval, +32 resume)
.macro EXPECT_MTRAP cause, tval
    la t0, trap_log
    ld t1, 8(t0)
    li t2, \cause
    bne t1, t2, fail
    ld t1, 24(t0)
    li t2, \tval
    bne t1, t2, fail
    sd zero, 8(t0)
.endm

    RVTEST_CODE_BEGIN
    la t0, mhandler
    csrw mtvec, t0

    # ---- page tables (M-mode, physical addresses)
    la s0, root
    la s1, l1
    la s2, l0
    # root[2]: 1 GiB identity page at 0x80000000 (RWX, A and D preset)
    li t1, 0x80000000
    MAKE_PTE t1, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
    sd t0, 16(s0)
    # root[1] -> l1, l1[0] -> l0
    MAKE_PTE s1, PTE_V
    sd t0, 8(s0)
    MAKE_PTE s2, PTE_V
    sd t0, 0(s1)
    # l0[0]: VA -> data_page (RW); l0[1]: VA+4K -> ro_page (R); l0[2]: VA+8K -> user_page (RW, U); l0[3] invalid
    la t1, data_page
    MAKE_PTE t1, PTE_V | PTE_R | PTE_W
    sd t0, 0(s2)
    la t1, ro_page
    MAKE_PTE t1, PTE_V | PTE_R
    sd t0, 8(s2)
    la t1, user_page
    MAKE_PTE t1, PTE_V | PTE_R | PTE_W | PTE_U
    sd t0, 16(s2)
    sd zero, 24(s2)

    # ---- satp = Sv39 | root, then S-mode at s_main
    srli t0, s0, 12
    li t1, 8 << 60
    or t0, t0, t1
    csrw satp, t0
    sfence.vma
    li t0, 3 << 11
    csrc mstatus, t0
    li t0, 1 << 11
    csrs mstatus, t0
    la t0, s_main
    csrw mepc, t0
    mret

s_main:
test_2:                                 # store and load through a 4 KiB page
    li gp, 2
    li s3, VA
    li t1, 0x1234abcd
    sd t1, 8(s3)
    ld t2, 8(s3)
    bne t1, t2, fail
    la t3, data_page                    # (identity mapped too: the same bytes)
    ld t2, 8(t3)
    bne t1, t2, fail
test_3:                                 # the walk set A and D in the leaf, not in the pointers
    li gp, 3
    la t3, l0
    ld t1, 0(t3)
    andi t1, t1, PTE_A | PTE_D
    li t2, PTE_A | PTE_D
    bne t1, t2, fail
    la t3, l1
    ld t1, 0(t3)
    andi t1, t1, PTE_A | PTE_D
    bnez t1, fail
test_4:                                 # read-only page: loads work, a store is a page fault
    li gp, 4
    li s3, VA + 0x1000
    ld t1, 0(s3)
    li t2, 0x5555
    bne t1, t2, fail
    sd zero, 0(s3)
    EXPECT_MTRAP 15, VA + 0x1000
    la t3, ro_page
    ld t1, 0(t3)
    li t2, 0x5555
    bne t1, t2, fail
test_5:                                 # invalid PTE: load page fault
    li gp, 5
    li s3, VA + 0x3008
    ld t1, 0(s3)
    EXPECT_MTRAP 13, VA + 0x3008
test_6:                                 # U page from S: fault without SUM, fine with it
    li gp, 6
    li s3, VA + 0x2000
    ld t1, 0(s3)
    EXPECT_MTRAP 13, VA + 0x2000
    li t0, 1 << 18
    csrs sstatus, t0
    ld t1, 0(s3)
    li t2, 0x7777
    bne t1, t2, fail
    la t0, trap_log
    ld t1, 8(t0)
    bnez t1, fail
    li t0, 1 << 18
    csrc sstatus, t0
test_7:                                 # remap the invalid page, sfence.vma, then it works
    li gp, 7
    la t1, data_page
    MAKE_PTE t1, PTE_V | PTE_R | PTE_W
    la t3, l0
    sd t0, 24(t3)
    sfence.vma
    li s3, VA + 0x3000
    ld t1, 8(s3)
    li t2, 0x1234abcd
    bne t1, t2, fail
test_8:                                 # non-canonical address
    li gp, 8
    li s3, 0x0000004000000000
    ld t1, 0(s3)
    EXPECT_MTRAP 13, 0x0000004000000000
test_9:                                 # page faults delegated to S: S handler sees them
    li gp, 9
    la t0, shandler
    csrw stvec, t0
    li s3, VA + 0x1000
    li t1, 1
    ecall                               # ask M to delegate store page faults (a7 = 1)
    sd zero, 0(s3)
    la t0, s_log
    ld t1, 0(t0)
    li t2, 15
    bne t1, t2, fail
    ld t1, 8(t0)
    li t2, VA + 0x1000
    bne t1, t2, fail
    la t0, trap_log
    ld t1, 8(t0)
    li t2, 9
    bne t1, t2, fail                    # M saw only the ecall
    sd zero, 8(t0)

    # done in S: back to M to report
    la t0, trap_log
    la t1, m_done
    sd t1, 32(t0)
    ecall
m_done:
    csrw satp, zero
    TEST_PASSFAIL

    .align 2
mhandler:
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
    sd zero, 32(t6)                     # resume in M-mode at the given address
    csrw mepc, t5
    li t5, 3 << 11
    csrs mstatus, t5
    mret
1:  csrr t5, mcause                     # an S ecall with t1 = 1: delegate store page faults
    li t6, 9
    bne t5, t6, 2f
    li t5, 1 << 15
    csrs medeleg, t5
2:  csrr t5, mepc                       # skip the trapping (4-byte) instruction
    addi t5, t5, 4
    csrw mepc, t5
    mret

    .align 2
shandler:
    la t6, s_log
    csrr t5, scause
    sd t5, 0(t6)
    csrr t5, stval
    sd t5, 8(t6)
    csrr t5, sepc
    addi t5, t5, 4
    csrw sepc, t5
    sret

    RVTEST_CODE_END

    RVTEST_DATA_BEGIN
    .align 3
trap_log: .dword 0, 0, 0, 0, 0
s_log: .dword 0, 0
    .align 12
root: .space 4096
l1: .space 4096
l0: .space 4096
data_page: .space 4096
ro_page: .dword 0x5555
    .align 12
user_page: .dword 0x7777
    .align 12
    RVTEST_DATA_END
