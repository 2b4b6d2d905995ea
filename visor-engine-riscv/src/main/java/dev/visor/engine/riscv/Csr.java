package dev.visor.engine.riscv;

/** CSR numbers and mstatus/mip bit masks used by the engine (privileged spec 1.12). */
final class Csr {
    private Csr() {}

    static final int FFLAGS = 0x001, FRM = 0x002, FCSR = 0x003;
    static final int CYCLE = 0xc00, TIME = 0xc01, INSTRET = 0xc02;
    static final int SSTATUS = 0x100, SIE = 0x104, STVEC = 0x105, SCOUNTEREN = 0x106, SENVCFG = 0x10a,
            SSCRATCH = 0x140, SEPC = 0x141, SCAUSE = 0x142, STVAL = 0x143, SIP = 0x144, SATP = 0x180;
    static final int MVENDORID = 0xf11, MARCHID = 0xf12, MIMPID = 0xf13, MHARTID = 0xf14, MCONFIGPTR = 0xf15;
    static final int MSTATUS = 0x300, MISA = 0x301, MEDELEG = 0x302, MIDELEG = 0x303, MIE = 0x304, MTVEC = 0x305,
            MCOUNTEREN = 0x306, MENVCFG = 0x30a, MCOUNTINHIBIT = 0x320, MSCRATCH = 0x340, MEPC = 0x341,
            MCAUSE = 0x342, MTVAL = 0x343, MIP = 0x344, MTINST = 0x34a, MTVAL2 = 0x34b;
    static final int PMPCFG0 = 0x3a0, PMPADDR0 = 0x3b0, MSECCFG = 0x747;
    static final int MCYCLE = 0xb00, MINSTRET = 0xb02;

    // mstatus fields
    static final long SIE_BIT = 1L << 1, MIE_BIT = 1L << 3, SPIE = 1L << 5, MPIE = 1L << 7, SPP = 1L << 8;
    static final int MPP_SHIFT = 11;
    static final long MPP = 3L << MPP_SHIFT;
    static final long FS = 3L << 13, MPRV = 1L << 17, SUM = 1L << 18, MXR = 1L << 19, TVM = 1L << 20,
            TW = 1L << 21, TSR = 1L << 22, SD = 1L << 63;
    /** UXL = SXL = 2 (64-bit), fixed. */
    static final long XLEN_FIELDS = (2L << 32) | (2L << 34);
    static final long MSTATUS_WRITABLE = SIE_BIT | MIE_BIT | SPIE | MPIE | SPP | MPP | FS | MPRV | SUM | MXR | TVM | TW | TSR;
    static final long SSTATUS_MASK = SIE_BIT | SPIE | SPP | FS | SUM | MXR | (3L << 32) | SD;

    // interrupt bits (mip / mie)
    static final int SSI = 1, MSI = 3, STI = 5, MTI = 7, SEI = 9, MEI = 11;
    static final long S_INTERRUPTS = (1L << SSI) | (1L << STI) | (1L << SEI);
    static final long M_INTERRUPTS = (1L << MSI) | (1L << MTI) | (1L << MEI);
    /** Bits of mip that software may write (the rest are driven by hardware). */
    static final long MIP_WRITABLE = S_INTERRUPTS;

    /** misa: RV64 with A, C, D, F, I, M, S, U. */
    static final long MISA_VALUE = (2L << 62) | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12)
            | (1 << 18) | (1 << 20);
    /** Exceptions that may be delegated to S-mode (all but ecall from M). */
    static final long MEDELEG_WRITABLE = 0xb3ffL & ~(1L << 11);
}
