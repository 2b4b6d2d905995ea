# Console and power: prints a line on the 16550 UART, then powers off through the syscon test device
# (0x5555 = pass) instead of HTIF.
UART = 0x10000000
SYSCON = 0x100000

    .section .text.init, "ax", @progbits
    .globl _start
_start:
    csrr a0, mhartid
    bnez a0, park
    li s0, UART
    la s1, message
1:  lbu t0, 0(s1)
    beqz t0, 3f
2:  lbu t1, 5(s0)                       # LSR: wait for THR empty
    andi t1, t1, 0x20
    beqz t1, 2b
    sb t0, 0(s0)
    addi s1, s1, 1
    j 1b
3:  li s0, SYSCON
    li t0, 0x5555
    sw t0, 0(s0)
park:
    wfi
    j park

    .data
message: .string "hello from bare metal\n"
