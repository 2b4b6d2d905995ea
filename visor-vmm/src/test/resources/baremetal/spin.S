# Runs forever on every hart, counting in s1: a guest for tests of the host side (control socket,
# counters) that needs no kernel.
    .section .text.init, "ax", @progbits
    .globl _start
_start:
    addi s1, s1, 1
    j _start
