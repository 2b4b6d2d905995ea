package dev.visor.engine.riscv;

/**
 * A synchronous exception raised while executing an instruction. Each hart owns one preallocated
 * instance (no allocation, no stack trace), filled in and thrown from the cold paths (page faults,
 * illegal instructions, ecall) and caught by the hart's run loop, which then enters the trap handler.
 */
final class Trap extends RuntimeException {
    // exception causes (privileged spec, table 3.6)
    static final int INSN_MISALIGNED = 0, INSN_ACCESS = 1, ILLEGAL = 2, BREAKPOINT = 3,
            LOAD_MISALIGNED = 4, LOAD_ACCESS = 5, STORE_MISALIGNED = 6, STORE_ACCESS = 7,
            ECALL_U = 8, ECALL_S = 9, ECALL_M = 11,
            INSN_PAGE_FAULT = 12, LOAD_PAGE_FAULT = 13, STORE_PAGE_FAULT = 15;

    int cause;
    long tval;

    Trap() {
        super(null, null, false, false);
    }

    Trap set(int cause, long tval) {
        this.cause = cause;
        this.tval = tval;
        return this;
    }
}
