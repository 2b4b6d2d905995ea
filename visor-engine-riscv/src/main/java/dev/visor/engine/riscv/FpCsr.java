package dev.visor.engine.riscv;

/** fcsr state owned by a hart. */
public final class FpCsr {
    /** Dynamic rounding mode, 0..4 valid (RNE, RTZ, RDN, RUP, RMM); 5..7 make dynamic-rm instructions illegal. */
    public int frm;
    /** Accrued exception flags: NV=16 DZ=8 OF=4 UF=2 NX=1. */
    public int fflags;
}
