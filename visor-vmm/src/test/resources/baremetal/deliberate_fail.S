# Test 3 is wrong on purpose: the exit status must be 3.
    .include "riscv_test.S"
    RVTEST_CODE_BEGIN
    TEST_RR_OP 2, add, 5, 2, 3
    TEST_RR_OP 3, add, 6, 2, 3
    TEST_RR_OP 4, add, 7, 3, 4
    TEST_PASSFAIL
    RVTEST_CODE_END
    RVTEST_DATA_BEGIN
    RVTEST_DATA_END
