# Interrupts from the CLINT: machine timer (mtimecmp) waking WFI, machine software interrupt (msip),
# a vectored mtvec, and the time CSR following mtime.
    .include "riscv_test.S"

CLINT_MSIP = 0x2000000
CLINT_MTIMECMP = 0x2004000
CLINT_MTIME = 0x200bff8

    RVTEST_CODE_BEGIN
    la t0, handler
    csrw mtvec, t0

test_2:                                 # timer: deadline 1 ms ahead, WFI until the handler ran
    li gp, 2
    li s0, CLINT_MTIME
    ld t1, 0(s0)
    li t2, 10000                        # 10 MHz timebase: 1 ms
    add t1, t1, t2
    li s1, CLINT_MTIMECMP
    sd t1, 0(s1)
    li t0, 1 << 7
    csrs mie, t0                        # MTIE
    csrsi mstatus, 8                    # MIE
1:  la t0, irq_count
    ld t1, 0(t0)
    bnez t1, 2f
    wfi
    j 1b
2:  csrci mstatus, 8
    la t0, irq_cause
    ld t1, 0(t0)
    li t2, 0x8000000000000007
    bne t1, t2, fail
    li s0, CLINT_MTIME                  # the deadline really passed
    ld t1, 0(s0)
    li s1, CLINT_MTIMECMP
    ld t2, 0(s1)
    li t3, -1
    bne t2, t3, fail                    # the handler disarmed it
test_3:                                 # software interrupt through msip
    li gp, 3
    la t0, irq_count
    sd zero, 0(t0)
    li t0, 1 << 3
    csrw mie, t0                        # MSIE only
    li s0, CLINT_MSIP
    li t1, 1
    sw t1, 0(s0)
    csrsi mstatus, 8                    # taken right here
    nop
    nop
    csrci mstatus, 8
    la t0, irq_count
    ld t1, 0(t0)
    li t2, 1
    bne t1, t2, fail
    la t0, irq_cause
    ld t1, 0(t0)
    li t2, 0x8000000000000003
    bne t1, t2, fail
test_4:                                 # vectored mtvec: the timer enters at base + 4 * 7
    li gp, 4
    la t0, vectors
    ori t0, t0, 1
    csrw mtvec, t0
    la t0, irq_count
    sd zero, 0(t0)
    li t0, 1 << 7
    csrw mie, t0
    li s1, CLINT_MTIMECMP
    sd zero, 0(s1)                      # deadline in the past: pending at once
    csrsi mstatus, 8
3:  la t0, irq_count
    ld t1, 0(t0)
    beqz t1, 3b
    csrci mstatus, 8
    la t0, vector_hit
    ld t1, 0(t0)
    li t2, 7
    bne t1, t2, fail
    la t0, handler
    csrw mtvec, t0
test_5:                                 # rdtime follows mtime
    li gp, 5
    li s0, CLINT_MTIME
    ld t1, 0(s0)
    rdtime t2
    ld t3, 0(s0)
    bltu t2, t1, fail
    bltu t3, t2, fail
    TEST_PASSFAIL

    .align 2
handler:
    csrr t5, mcause
    la t6, irq_cause
    sd t5, 0(t6)
    la t6, irq_count
    ld t5, 0(t6)
    addi t5, t5, 1
    sd t5, 0(t6)
    li t6, CLINT_MTIMECMP               # quiet both sources
    li t5, -1
    sd t5, 0(t6)
    li t6, CLINT_MSIP
    sw zero, 0(t6)
    mret

    .align 6
vectors:                                # entry i at vectors + 4 i (4-byte jumps): records i
    .option push
    .option norvc
    .irp i, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    j vector_\i
    .endr
    .option pop
    .irp i, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
vector_\i:
    li t5, \i
    j vector_common
    .endr
vector_common:
    la t6, vector_hit
    sd t5, 0(t6)
    j handler
    RVTEST_CODE_END

    RVTEST_DATA_BEGIN
    .align 3
irq_count: .dword 0
irq_cause: .dword 0
vector_hit: .dword 0
    RVTEST_DATA_END
