# An illegal instruction before the first test: the framework's trap handler reports 1337.
    .include "riscv_test.S"
    RVTEST_CODE_BEGIN
    .word 0
    TEST_RR_OP 2, add, 5, 2, 3
    TEST_PASSFAIL
    RVTEST_CODE_END
    RVTEST_DATA_BEGIN
    RVTEST_DATA_END
