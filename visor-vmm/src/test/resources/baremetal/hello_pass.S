# The smallest program: one passing test.
    .include "riscv_test.S"
    RVTEST_CODE_BEGIN
    TEST_IMM_OP 2, addi, 3, 1, 2
    TEST_PASSFAIL
    RVTEST_CODE_END
    RVTEST_DATA_BEGIN
    RVTEST_DATA_END
