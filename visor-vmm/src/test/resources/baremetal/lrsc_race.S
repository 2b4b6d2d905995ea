# Two harts race on shared counters: 10000 LR/SC increments each (test 2) and 10000 amoadd.w each
# (test 3) must give exactly 20000. Hart 0 waits for both harts to finish and publishes the counters;
# hart 1 waits for hart 0's result in memory, checks it and reports.
    .include "riscv_test.S"
    RVTEST_CODE_BEGIN 2

    # start together: both check in, then wait for each other
    la s0, arrived
    li t0, 1
    amoadd.w zero, t0, (s0)
1:  lw t0, 0(s0)
    li t1, 2
    bne t0, t1, 1b

    # LR/SC increments
    la s0, counter
    li s1, 10000
2:  lr.w t0, (s0)
    addi t0, t0, 1
    sc.w t1, t0, (s0)
    bnez t1, 2b
    addi s1, s1, -1
    bnez s1, 2b

    # AMO increments
    la s0, amo_counter
    li s1, 10000
    li t0, 1
3:  amoadd.w zero, t0, (s0)
    addi s1, s1, -1
    bnez s1, 3b

    # done
    la s0, finished
    li t0, 1
    amoadd.w zero, t0, (s0)
    bnez a0, hart1

    # hart 0: wait for both, then publish the results
4:  lw t0, 0(s0)
    li t1, 2
    bne t0, t1, 4b
    fence
    la s1, counter
    lw t0, 0(s1)
    la s1, amo_counter
    lw t1, 0(s1)
    la s2, result
    sw t1, 4(s2)
    fence
    sw t0, 0(s2)               # hart 1 polls this word
5:  wfi
    j 5b

hart1:
    la s2, result
6:  lw t0, 0(s2)
    beqz t0, 6b
    fence
test_2:
    li gp, 2
    li t2, 20000
    bne t0, t2, fail
test_3:
    li gp, 3
    lw t1, 4(s2)
    bne t1, t2, fail

    TEST_PASSFAIL
    RVTEST_CODE_END

    RVTEST_DATA_BEGIN
    .align 6
arrived:     .word 0
    .align 6
counter:     .word 0
    .align 6
amo_counter: .word 0
    .align 6
finished:    .word 0
    .align 6
result:      .word 0, 0
    RVTEST_DATA_END
