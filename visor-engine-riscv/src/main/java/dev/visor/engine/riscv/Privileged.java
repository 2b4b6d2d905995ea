package dev.visor.engine.riscv;

/**
 * The SYSTEM opcode: environment calls, trap returns, WFI, SFENCE.VMA and the CSR instructions,
 * with the CSR file's access rules and side effects. Cold code, called from {@link Hart#execute}.
 * Returns tell the interpreter how to go on: {@link #NEXT} (next instruction, same block),
 * {@link #END} (next instruction, but end the block so interrupts and translation are re-checked)
 * or {@link #JUMPED} (the hart's pc was set here).
 */
final class Privileged {
    static final int NEXT = 0, END = 1, JUMPED = 2;

    private Privileged() {}

    static int system(Hart h, int insn) {
        int rd = (insn >>> 7) & 31, rs1 = (insn >>> 15) & 31;
        if ((insn >>> 25) == 0x09 && rd == 0) { // sfence.vma
            if (h.priv == Hart.PRIV_U || (h.priv == Hart.PRIV_S && (h.mstatus & Csr.TVM) != 0)) throw illegal(h, insn);
            // rs1 names one page (rs2, the ASID, is moot: no ASIDs are kept); x0 means all of them
            if (rs1 != 0) h.flushTlbPage(h.x[rs1]);
            else h.flushTlb();
            return END;
        }
        switch (insn) {
            case 0x00000073: // ecall
                throw h.fault(Trap.ECALL_U + h.priv, 0);
            case 0x00100073: // ebreak
                throw h.fault(Trap.BREAKPOINT, h.pc);
            case 0x30200073: { // mret
                if (h.priv != Hart.PRIV_M) throw illegal(h, insn);
                long s = h.mstatus;
                int mpp = (int) ((s >>> Csr.MPP_SHIFT) & 3);
                s = (s & Csr.MPIE) != 0 ? s | Csr.MIE_BIT : s & ~Csr.MIE_BIT;
                s = (s | Csr.MPIE) & ~Csr.MPP;
                if (mpp != Hart.PRIV_M) s &= ~Csr.MPRV;
                h.mstatus = s;
                h.priv = mpp;
                h.pc = h.mepc;
                h.updateContext();
                return JUMPED;
            }
            case 0x10200073: { // sret
                if (h.priv == Hart.PRIV_U || (h.priv == Hart.PRIV_S && (h.mstatus & Csr.TSR) != 0)) throw illegal(h, insn);
                long s = h.mstatus;
                int spp = (s & Csr.SPP) != 0 ? Hart.PRIV_S : Hart.PRIV_U;
                s = (s & Csr.SPIE) != 0 ? s | Csr.SIE_BIT : s & ~Csr.SIE_BIT;
                s = (s | Csr.SPIE) & ~Csr.SPP & ~Csr.MPRV;
                h.mstatus = s;
                h.priv = spp;
                h.pc = h.sepc;
                h.updateContext();
                return JUMPED;
            }
            case 0x10500073: // wfi
                if (h.priv == Hart.PRIV_U || (h.priv == Hart.PRIV_S && (h.mstatus & Csr.TW) != 0)) throw illegal(h, insn);
                h.waitingForInterrupt = true;
                return END;
            default:
                throw illegal(h, insn);
        }
    }

    static Trap illegal(Hart h, int insn) {
        return h.fault(Trap.ILLEGAL, insn & 0xffffffffL);
    }

    /** csrrw, csrrs, csrrc and their immediate forms, for the interpreter. */
    static int csr(Hart h, int insn, int len) {
        int f3 = (insn >>> 12) & 7, rs1 = (insn >>> 15) & 31;
        long old = csrOp(h, insn, (f3 & 4) != 0 ? rs1 : h.x[rs1]);
        h.x[(insn >>> 7) & 31] = old;
        if (!h.sliceEnd) return NEXT;
        h.sliceEnd = false;
        return END;
    }

    /**
     * Does a CSR instruction with {@code src} as its operand (rs1's value, or the immediate) and returns
     * the CSR's old value, for rd. Sets {@link Hart#sliceEnd} when the write may have consequences
     * the hart must see before its next instruction: an interrupt it enabled that is pending, or a
     * change of translation or of interrupt routing. Translated regions call this too (for the CSRs
     * {@link #translatable} allows), so the two paths cannot disagree.
     */
    static long csrOp(Hart h, int insn, long src) {
        int f3 = (insn >>> 12) & 7;
        int rs1 = (insn >>> 15) & 31;
        int csr = insn >>> 20;
        if (f3 == 4 || f3 == 0) throw illegal(h, insn);
        int kind = f3 & 3; // 1 write, 2 set, 3 clear
        boolean writes = kind == 1 || rs1 != 0;
        if (((csr >>> 8) & 3) > h.priv) throw illegal(h, insn);
        if (writes && (csr >>> 10) == 3) throw illegal(h, insn);
        long old = read(h, csr, insn);
        if (writes) {
            // csrrs/csrrc on mip/sip modify the software-written bits only: folding in the level of an
            // external line (SEIP from the PLIC) would latch it and cause an interrupt storm (priv spec 3.1.9)
            long base = csr == Csr.MIP || csr == Csr.SIP ? h.mipSoftware : old;
            long v = kind == 1 ? src : kind == 2 ? base | src : base & ~src;
            long enabledBefore = h.mstatus & (Csr.SIE_BIT | Csr.MIE_BIT);
            write(h, csr, v, insn);
            switch (csr) {
                // the hot case (Linux's irq save/restore): only an enable that lets a pending interrupt in matters
                case Csr.SSTATUS, Csr.MSTATUS -> {
                    if ((h.mstatus & ~enabledBefore & (Csr.SIE_BIT | Csr.MIE_BIT)) != 0 && h.interruptDeliverable()) h.sliceEnd = true;
                }
                case Csr.SIE, Csr.MIE -> { if (h.interruptDeliverable()) h.sliceEnd = true; }
                case Csr.FFLAGS, Csr.FRM, Csr.FCSR, Csr.STVEC, Csr.SSCRATCH, Csr.SEPC, Csr.SCAUSE, Csr.STVAL,
                     Csr.MTVEC, Csr.MSCRATCH, Csr.MEPC, Csr.MCAUSE, Csr.MTVAL, Csr.SCOUNTEREN, Csr.MCOUNTEREN -> { }
                // satp (translation), mip/sip (a software interrupt), delegation, PMP, counters: rare, so always
                default -> h.sliceEnd = true;
            }
        }
        return old;
    }

    /**
     * Whether translated regions may do this CSR instruction themselves (through {@link #csrOp}): the
     * CSRs the kernel's hot paths use (irq save/restore, trap entry, the time) and whose effects
     * {@code csrOp} fully covers. The counters cycle and instret stay with the interpreter, which
     * brings instret up to date before reading them.
     */
    static boolean translatable(int insn) {
        int f3 = (insn >>> 12) & 7;
        if (f3 == 0 || f3 == 4) return false;
        return switch (insn >>> 20) {
            case Csr.SSTATUS, Csr.SIE, Csr.STVEC, Csr.SSCRATCH, Csr.SEPC, Csr.SCAUSE, Csr.STVAL -> true;
            case Csr.TIME -> ((insn >>> 15) & 31) == 0 && f3 != 1 && f3 != 5; // a pure read
            default -> false;
        };
    }

    private static void counterAllowed(Hart h, int csr, int insn) {
        int bit = csr & 31;
        if (h.priv < Hart.PRIV_M && ((h.mcounteren >>> bit) & 1) == 0) throw illegal(h, insn);
        if (h.priv == Hart.PRIV_U && ((h.scounteren >>> bit) & 1) == 0) throw illegal(h, insn);
    }

    private static void fpAllowed(Hart h, int insn) {
        if ((h.mstatus & Csr.FS) == 0) throw illegal(h, insn);
    }

    static long read(Hart h, int csr, int insn) {
        switch (csr) {
            case Csr.FFLAGS: fpAllowed(h, insn); return h.fcsr.fflags;
            case Csr.FRM: fpAllowed(h, insn); return h.fcsr.frm;
            case Csr.FCSR: fpAllowed(h, insn); return (h.fcsr.frm << 5) | h.fcsr.fflags;
            case Csr.CYCLE, Csr.INSTRET: counterAllowed(h, csr, insn); return h.instret;
            case Csr.TIME: counterAllowed(h, csr, insn); return h.clock.ticks();
            case Csr.SSTATUS: return status(h) & Csr.SSTATUS_MASK;
            case Csr.SIE: return h.mie & h.mideleg;
            case Csr.STVEC: return h.stvec;
            case Csr.SCOUNTEREN: return h.scounteren;
            case Csr.SENVCFG: return h.senvcfg;
            case Csr.SSCRATCH: return h.sscratch;
            case Csr.SEPC: return h.sepc;
            case Csr.SCAUSE: return h.scause;
            case Csr.STVAL: return h.stval;
            case Csr.SIP: return h.mip() & h.mideleg;
            case Csr.SATP:
                if (h.priv == Hart.PRIV_S && (h.mstatus & Csr.TVM) != 0) throw illegal(h, insn);
                return h.satp;
            case Csr.MVENDORID, Csr.MARCHID, Csr.MIMPID, Csr.MCONFIGPTR: return 0;
            case Csr.MHARTID: return h.id;
            case Csr.MSTATUS: return status(h);
            case Csr.MISA: return Csr.MISA_VALUE;
            case Csr.MEDELEG: return h.medeleg;
            case Csr.MIDELEG: return h.mideleg;
            case Csr.MIE: return h.mie;
            case Csr.MTVEC: return h.mtvec;
            case Csr.MCOUNTEREN: return h.mcounteren;
            case Csr.MENVCFG: return h.menvcfg;
            case Csr.MCOUNTINHIBIT: return h.mcountinhibit;
            case Csr.MSCRATCH: return h.mscratch;
            case Csr.MEPC: return h.mepc;
            case Csr.MCAUSE: return h.mcause;
            case Csr.MTVAL: return h.mtval;
            case Csr.MIP: return h.mip();
            case Csr.MCYCLE, Csr.MINSTRET: return h.instret;
            default:
        }
        if (csr >= 0xc03 && csr <= 0xc1f) { counterAllowed(h, csr, insn); return 0; } // hpmcounterN
        if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0x323 && csr <= 0x33f)) return 0; // mhpmcounterN, mhpmeventN
        if (csr >= Csr.PMPCFG0 && csr <= Csr.PMPCFG0 + 15) {
            if ((csr & 1) != 0) throw illegal(h, insn); // odd pmpcfg registers do not exist on RV64
            return h.pmpcfg[csr - Csr.PMPCFG0];
        }
        if (csr >= Csr.PMPADDR0 && csr <= Csr.PMPADDR0 + 63) return h.pmpaddr[csr - Csr.PMPADDR0];
        throw illegal(h, insn);
    }

    private static long status(Hart h) {
        long s = h.mstatus;
        return (s & Csr.FS) == Csr.FS ? s | Csr.SD : s;
    }

    static void write(Hart h, int csr, long v, int insn) {
        switch (csr) {
            // writing fcsr changes FP state: FS becomes Dirty, so kernels save it on a context switch
            case Csr.FFLAGS -> { h.fcsr.fflags = (int) v & 0x1f; h.mstatus |= Csr.FS; }
            case Csr.FRM -> { h.fcsr.frm = (int) v & 7; h.mstatus |= Csr.FS; }
            case Csr.FCSR -> { h.fcsr.fflags = (int) v & 0x1f; h.fcsr.frm = (int) (v >>> 5) & 7; h.mstatus |= Csr.FS; }
            case Csr.SSTATUS -> setStatus(h, (h.mstatus & ~Csr.SSTATUS_MASK) | (v & Csr.SSTATUS_MASK));
            case Csr.SIE -> h.mie = (h.mie & ~h.mideleg) | (v & h.mideleg);
            case Csr.STVEC -> h.stvec = v & ~2L;
            case Csr.SCOUNTEREN -> h.scounteren = v & 0xffffffffL;
            case Csr.SENVCFG -> h.senvcfg = v & 1;
            case Csr.SSCRATCH -> h.sscratch = v;
            case Csr.SEPC -> h.sepc = v & ~1L;
            case Csr.SCAUSE -> h.scause = v;
            case Csr.STVAL -> h.stval = v;
            case Csr.SIP -> {
                long mask = h.mideleg & (1L << Csr.SSI);
                h.mipSoftware = (h.mipSoftware & ~mask) | (v & mask);
            }
            case Csr.SATP -> {
                if (h.priv == Hart.PRIV_S && (h.mstatus & Csr.TVM) != 0) throw illegal(h, insn);
                int mode = (int) (v >>> 60);
                // WARL: an unsupported mode leaves satp unchanged; no ASID bits are implemented
                if (mode == 0 || mode == 8 || mode == 9) {
                    h.satp = ((long) mode << 60) | (v & 0xfffffffffffL);
                    h.flushTlb();
                }
            }
            case Csr.MSTATUS -> setStatus(h, v);
            case Csr.MISA -> { } // fixed
            case Csr.MEDELEG -> h.medeleg = v & Csr.MEDELEG_WRITABLE;
            case Csr.MIDELEG -> h.mideleg = v & Csr.S_INTERRUPTS;
            case Csr.MIE -> h.mie = v & (Csr.S_INTERRUPTS | Csr.M_INTERRUPTS);
            case Csr.MTVEC -> h.mtvec = v & ~2L;
            case Csr.MCOUNTEREN -> h.mcounteren = v & 0xffffffffL;
            case Csr.MENVCFG -> h.menvcfg = v & 1;
            case Csr.MCOUNTINHIBIT -> h.mcountinhibit = v & 0xfffffffdL;
            case Csr.MSCRATCH -> h.mscratch = v;
            case Csr.MEPC -> h.mepc = v & ~1L;
            case Csr.MCAUSE -> h.mcause = v;
            case Csr.MTVAL -> h.mtval = v;
            case Csr.MIP -> h.mipSoftware = (h.mipSoftware & ~Csr.MIP_WRITABLE) | (v & Csr.MIP_WRITABLE);
            case Csr.MCYCLE, Csr.MINSTRET -> h.instret = v;
            default -> {
                if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0x323 && csr <= 0x33f)) return;
                if (csr >= Csr.PMPCFG0 && csr <= Csr.PMPCFG0 + 15) {
                    h.pmpcfg[csr - Csr.PMPCFG0] = v;
                    return;
                }
                if (csr >= Csr.PMPADDR0 && csr <= Csr.PMPADDR0 + 63) {
                    h.pmpaddr[csr - Csr.PMPADDR0] = v & 0x3fffffffffffffL;
                    return;
                }
                throw illegal(h, insn);
            }
        }
    }

    private static void setStatus(Hart h, long v) {
        long s = (h.mstatus & ~Csr.MSTATUS_WRITABLE) | (v & Csr.MSTATUS_WRITABLE);
        if (((s >>> Csr.MPP_SHIFT) & 3) == 2) s &= ~Csr.MPP; // MPP=2 is reserved: WARL to U
        h.mstatus = s & ~Csr.SD;
        h.updateContext();
    }
}
