package dev.visor.engine.riscv;

import dev.visor.machine.Clock;
import dev.visor.machine.GuestMemory;
import dev.visor.machine.InterruptPins;
import dev.visor.machine.MmioBus;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;

/**
 * One RV64GC hardware thread: registers, CSRs, TLBs and the interpreter loop.
 *
 * <p>Threading: all state except the interrupt inputs is owned by the hart's own thread (the vCPU
 * thread). {@link #setPending}, {@link #setTimerCompare} and the control requests may be called from
 * any thread; they only touch volatile fields and wake the hart.
 *
 * <h2>Implementation overview</h2>
 * The loop in {@link #execute} runs a block of up to {@link #BLOCK} instructions with the program
 * counter in a local variable. Instruction fetch, loads and stores go through three small
 * direct-mapped TLBs (fetch, read, write) that hold, per virtual page, the offset of the page in
 * guest RAM: a hit is an index, a compare and a memory access. Misses, MMIO, page faults and all
 * privileged work live in cold methods. A synchronous exception is a preallocated {@link Trap}
 * thrown from those cold paths and caught at the block loop, so the common path never tests for it.
 * Between blocks the hart polls its interrupt inputs, the timer and the control requests; a hart
 * in WFI parks until an interrupt input changes or its timer deadline passes.
 */
public final class Hart implements InterruptPins {
    /** Instructions per block between interrupt polls: bounds interrupt latency to tens of microseconds. */
    static final int BLOCK = 4096;
    /** Entries per TLB: 1024 pages (4 MiB) covers the hot part of a Linux kernel text plus a process. */
    static final int TLB_SIZE = 1024, TLB_MASK = TLB_SIZE - 1;

    static final int PRIV_U = 0, PRIV_S = 1, PRIV_M = 3;

    static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;
    static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
    static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;
    // Atomic views of guest RAM for AMOs and LR/SC. Guest RAM is little-endian like the host (x86-64, aarch64).
    static final VarHandle ATOMIC_INT = ValueLayout.JAVA_INT.varHandle();
    static final VarHandle ATOMIC_LONG = ValueLayout.JAVA_LONG.varHandle();

    // ---- machine ----
    final int id;
    final GuestMemory memory;
    final MemorySegment ram;
    final long ramBase, ramSize;
    final MmioBus bus;
    final Clock clock;
    final HartGroup group;

    // ---- architectural state ----
    final long[] x = new long[32];
    final long[] f = new long[32];
    final FpCsr fcsr = new FpCsr();
    long pc;
    int priv = PRIV_M;

    long mstatus = Csr.XLEN_FIELDS;
    long medeleg, mideleg, mie, mtvec, mscratch, mepc, mcause, mtval, mcounteren, menvcfg, mcountinhibit;
    long stvec, sscratch, sepc, scause, stval, scounteren, senvcfg, satp;
    final long[] pmpcfg = new long[16];
    final long[] pmpaddr = new long[64];
    /** mip bits written by software (SSIP, STIP, SEIP). */
    long mipSoftware;
    /** mip bits driven by interrupt controllers (MSIP, MEIP, SEIP); written under {@code this} lock. */
    volatile long mipHardware;
    /**
     * Timer compare (CLINT mtimecmp), unsigned ticks; MTIP is pending while clock >= this. Starts as
     * what the CLINT gives a hart for its reset value of all ones (Long.MAX_VALUE: never), so a
     * fresh VM's saved state is the same as after a restore.
     */
    volatile long mtimecmp = Long.MAX_VALUE;
    /** Instructions retired. */
    long instret;
    /** Statistics for tuning and metrics: fetch TLB refills, exceptions taken (by cause), interrupts taken. */
    long fetchMisses, interruptsTaken, tlbFlushes, pageFlushes;
    final long[] exceptionsTaken = new long[16];
    final long[] interruptsByCause = new long[16];

    /** LR/SC reservation: guest-physical address or -1, and the value loaded by LR. */
    long reservation = -1;
    long reservationValue;

    // ---- TLBs: tag = virtual page number (or -1); off = the page's offset in guest RAM (fetch), or
    // its host address (read, write: see HOST) ----
    final long[] fetchTag = new long[TLB_SIZE], fetchOff = new long[TLB_SIZE];
    final long[] readTag = new long[TLB_SIZE], readOff = new long[TLB_SIZE];
    final long[] writeTag = new long[TLB_SIZE], writeOff = new long[TLB_SIZE];
    /** Each entry's leaf level (0: a 4 KiB page; more: a slice of a superpage), for {@link #flushTlbPage}. */
    final byte[] fetchLevel = new byte[TLB_SIZE], readLevel = new byte[TLB_SIZE], writeLevel = new byte[TLB_SIZE];
    /** Some entry since the last full flush is a slice of a superpage. */
    private boolean superpagesCached;

    /**
     * TLB context tags, OR-ed into the virtual page number (bits 56+): the privilege and the mstatus
     * bits that change what a page walk allows (SUM, MXR). Entries filled in one context never hit in
     * another, so privilege changes and SUM toggles need no TLB flush.
     */
    long fetchCtx, dataCtx;

    final Trap trap = new Trap();

    // ---- translated blocks (see Block, BlockTranslator) ----
    /** Translates hot blocks to JVM bytecode unless -Dvisor.translate=false (then everything is interpreted). */
    static final boolean TRANSLATE = !"false".equals(System.getProperty("visor.translate"));
    /** Translated blocks call their successors directly (-Dvisor.chain=false: always through the dispatcher). */
    static final boolean CHAIN = !"false".equals(System.getProperty("visor.chain")) && !BlockProfile.ON;
    /**
     * Executions of a jump target before its block is translated: cold code is not worth a class (and
     * its JIT compilation). Measured on the Linux boot: 2000 boots in about two thirds of the time 100 takes.
     */
    static final int HOT_THRESHOLD = Integer.getInteger("visor.translate.threshold", 2000);
    final BlockCache blocks = new BlockCache();
    /** Interpreted instructions by guest-physical address, kept only for the guest profiler (see BlockProfile). */
    final java.util.concurrent.ConcurrentHashMap<Long, long[]> interpretedAt =
            BlockProfile.ON ? new java.util.concurrent.ConcurrentHashMap<>() : null;
    /** Set by a translated block that trapped: the index of the faulting instruction in it. */
    int blockFaultIndex;
    /** Set by a translated block as it leaves: how many of its instructions ran (side exits leave early). */
    int blockExecuted;
    /** Chained block calls still allowed in this dispatch (bounds instructions per dispatch and stack depth). */
    int chainLeft;
    /**
     * Set by a CSR write (see {@link Privileged#csrOp}) whose effect the run loop must see before the
     * next instruction: execute() returns after the instruction or the region that did it.
     */
    boolean sliceEnd;
    /** Set by a block exit that has no successor linked yet: the dispatcher links the next block there. */
    Block linkFrom;
    int linkSite;
    /** The block (and the virtual pc it was entered at) that trapped, set by its exception handler. */
    Block blockFaultBlock;
    long blockFaultPc;
    long blocksTranslated, blockRuns, blockInstructions, translateNanos;
    /** Translate on a background thread (the default) or inline; tests switch it off for determinism. */
    boolean asyncTranslation = !"false".equals(System.getProperty("visor.translate.async"));
    private TranslationWorker worker;

    private TranslationWorker translationWorker() {
        if (worker == null) worker = new TranslationWorker(this);
        return worker;
    }

    /** Takes the blocks the background translator finished into this hart's cache. */
    private void collectTranslations() {
        TranslationWorker w = worker;
        if (w == null) return;
        for (Block b; (b = w.poll()) != null; ) {
            blocks.put(b.ramOffset, b);
            blocksTranslated++;
        }
    }
    final Mmu mmu;

    // ---- control ----
    volatile boolean waitingForInterrupt;
    volatile boolean stopRequested;
    volatile Thread thread;
    /** Set by other threads to make the hart leave its block early (interrupt, flush, stop). */
    volatile boolean attention;
    volatile boolean tlbFlushRequested;

    /**
     * The whole host address space, for the data TLB's fast paths: their entries hold the host address
     * of the guest page, so a load or store that hits is one access through this constant segment
     * (HotSpot folds its bounds and lifetime checks away), where a guest-RAM segment held in a field
     * costs a bounds check and a liveness check per access. Safe because an entry is only ever made for
     * a page wholly inside guest RAM (the slow path checks it), and the offsets the fast paths add stay
     * inside the page; guest RAM is unmapped only after the harts stopped.
     */
    static final MemorySegment HOST = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
    /** Host address of guest RAM's first byte. */
    final long ramAddress;

    Hart(int id, GuestMemory memory, MmioBus bus, Clock clock, HartGroup group) {
        this.id = id;
        this.memory = memory;
        this.ram = memory.segment();
        if (!ram.isNative()) throw new IllegalArgumentException("guest RAM must be native memory");
        this.ramAddress = ram.address();
        this.ramBase = memory.base();
        this.ramSize = memory.size();
        this.bus = bus;
        this.clock = clock;
        this.group = group;
        this.mmu = new Mmu(this);
        flushTlb();
    }

    public int id() { return id; }
    public long pc() { return pc; }
    public long register(int i) { return x[i]; }
    public int privilege() { return priv; }

    /** One line of counters for tuning: instructions, fetch TLB misses, exceptions by cause, interrupts. */
    public String statistics() {
        StringBuilder b = new StringBuilder();
        b.append("hart ").append(id).append(": instret=").append(instret).append(" fetchMisses=").append(fetchMisses)
                .append(" tlbFlushes=").append(tlbFlushes).append(" pageFlushes=").append(pageFlushes)
                .append(" blocks=").append(blocksTranslated).append(" blockRuns=").append(blockRuns)
                .append(" inBlocks=").append(instret == 0 ? 0 : 100 * blockInstructions / instret).append('%')
                .append(" translateMs=").append((translateNanos + (worker == null ? 0 : worker.nanos)) / 1_000_000)
                .append(" interrupts=").append(interruptsTaken).append(" (");
        for (int c = 0; c < 16; c++) if (interruptsByCause[c] != 0) b.append(c).append(':').append(interruptsByCause[c]).append(' ');
        b.append(") exceptions=");
        for (int c = 0; c < 16; c++) if (exceptionsTaken[c] != 0) b.append(c).append(':').append(exceptionsTaken[c]).append(' ');
        return b.toString();
    }

    /** Sets the state a hart has at reset before jumping to firmware or a kernel. */
    public void reset(long entry, long a0, long a1, long a2) {
        java.util.Arrays.fill(x, 0);
        pc = entry;
        x[10] = a0;
        x[11] = a1;
        x[12] = a2;
        priv = PRIV_M;
        mstatus = Csr.XLEN_FIELDS;
        updateContext();
        flushTlb();
    }

    // ---------------------------------------------------------------- interrupt inputs (any thread)

    @Override
    public void setPending(int bit, boolean level) {
        synchronized (this) {
            long m = mipHardware;
            mipHardware = level ? m | (1L << bit) : m & ~(1L << bit);
        }
        kick();
    }

    @Override
    public void setTimerCompare(long ticks) {
        mtimecmp = ticks;
        kick();
    }

    /** Makes the hart poll its inputs soon and wakes it from WFI. */
    void kick() {
        attention = true;
        Thread t = thread;
        if (t != null && waitingForInterrupt) LockSupport.unpark(t);
    }

    // ---------------------------------------------------------------- run loop

    /** Runs until {@link #requestStop}. Call on the hart's own thread. */
    void run() {
        thread = Thread.currentThread();
        // one slice per call: VM processes run without on-stack replacement (see ./visor), and this loop
        // runs once per thread, so its body is a method that gets compiled
        while (!stopRequested) runSlice();
    }

    /** Polls the pause point, TLB flush requests, translations and interrupts, then idles or runs a block of instructions. */
    private void runSlice() {
        group.pausePoint(this);
        if (stopRequested) return;
        if (tlbFlushRequested) {
            tlbFlushRequested = false;
            flushTlb();
        }
        attention = false;
        collectTranslations();
        if (checkInterrupts()) waitingForInterrupt = false;
        if (waitingForInterrupt) {
            idle();
            return;
        }
        execute(BLOCK);
    }

    void requestStop() {
        stopRequested = true;
        TranslationWorker w = worker;
        if (w != null) w.stop();
        attention = true;
        Thread t = thread;
        if (t != null) LockSupport.unpark(t);
    }

    /** Pending interrupt bits as software sees them in mip. */
    long mip() {
        long p = mipSoftware | mipHardware;
        if (Long.compareUnsigned(clock.ticks(), mtimecmp) >= 0) p |= 1L << Csr.MTI;
        return p;
    }

    /** WFI: parks until an enabled interrupt is pending (whatever the global enables say), a request, or the timer. */
    private void idle() {
        while (!stopRequested && !attention) {
            if ((mip() & mie) != 0) break;
            long wait = (mie & (1L << Csr.MTI)) != 0 ? clock.nanosUntil(mtimecmp) : 1_000_000_000L;
            if (wait <= 0) break;
            LockSupport.parkNanos(this, Math.min(wait, 1_000_000_000L));
            if (group.pauseRequested()) return;
        }
        if ((mip() & mie) != 0) waitingForInterrupt = false;
    }

    /** Whether an interrupt is pending that the current mode and enables let in now (what checkInterrupts would take). */
    boolean interruptDeliverable() {
        return deliverable(mip() & mie) != 0;
    }

    /**
     * Of the {@code pending} interrupts (enabled in mie), those the current mode and global enables let
     * in now: the M-level ones (not delegated) if any may be taken, else the S-level ones; 0 if none.
     */
    private long deliverable(long pending) {
        long mPending = pending & ~mideleg;
        if (mPending != 0 && (priv < PRIV_M || (mstatus & Csr.MIE_BIT) != 0)) return mPending;
        long sPending = pending & mideleg;
        boolean sEnabled = priv < PRIV_S || (priv == PRIV_S && (mstatus & Csr.SIE_BIT) != 0);
        return sPending != 0 && sEnabled ? sPending : 0;
    }

    /** Takes the highest-priority enabled pending interrupt, if any. Returns true if one is pending and enabled in mie. */
    private boolean checkInterrupts() {
        long pending = mip() & mie;
        if (pending == 0) return false;
        long take = deliverable(pending);
        if (take != 0) takeTrap(true, pickInterrupt(take), 0, pc);
        return true;
    }

    /** Priority order of the privileged spec: MEI, MSI, MTI, SEI, SSI, STI. */
    private static int pickInterrupt(long bits) {
        if ((bits & (1L << Csr.MEI)) != 0) return Csr.MEI;
        if ((bits & (1L << Csr.MSI)) != 0) return Csr.MSI;
        if ((bits & (1L << Csr.MTI)) != 0) return Csr.MTI;
        if ((bits & (1L << Csr.SEI)) != 0) return Csr.SEI;
        if ((bits & (1L << Csr.SSI)) != 0) return Csr.SSI;
        return Csr.STI;
    }

    /** Enters the trap handler for an exception or interrupt taken at {@code epc}. */
    void takeTrap(boolean interrupt, int cause, long tval, long epc) {
        if (interrupt) { interruptsTaken++; interruptsByCause[cause & 15]++; } else exceptionsTaken[cause & 15]++;
        reservation = -1;
        long causeValue = interrupt ? (1L << 63) | cause : cause;
        long delegated = interrupt ? mideleg : medeleg;
        if (priv <= PRIV_S && ((delegated >>> cause) & 1) != 0) {
            scause = causeValue;
            sepc = epc;
            stval = tval;
            long s = mstatus;
            s = (s & Csr.SIE_BIT) != 0 ? s | Csr.SPIE : s & ~Csr.SPIE;
            s = priv == PRIV_S ? s | Csr.SPP : s & ~Csr.SPP;
            mstatus = s & ~Csr.SIE_BIT;
            priv = PRIV_S;
            pc = (stvec & 1) != 0 && interrupt ? (stvec & ~3L) + 4L * cause : stvec & ~3L;
        } else {
            mcause = causeValue;
            mepc = epc;
            mtval = tval;
            long s = mstatus;
            s = (s & Csr.MIE_BIT) != 0 ? s | Csr.MPIE : s & ~Csr.MPIE;
            s = (s & ~Csr.MPP) | ((long) priv << Csr.MPP_SHIFT);
            mstatus = s & ~Csr.MIE_BIT;
            priv = PRIV_M;
            pc = (mtvec & 1) != 0 && interrupt ? (mtvec & ~3L) + 4L * cause : mtvec & ~3L;
        }
        // always: even without a privilege change, the new MPP changes what MPRV data accesses use
        updateContext();
    }

    /** Recomputes the TLB context tags; call after any change of priv or of mstatus MPRV/MPP/SUM/MXR. */
    void updateContext() {
        long s = mstatus;
        int dataPriv = priv == PRIV_M && (s & Csr.MPRV) != 0 ? (int) ((s >>> Csr.MPP_SHIFT) & 3) : priv;
        long bits = ((s & Csr.SUM) != 0 ? 4 : 0) | ((s & Csr.MXR) != 0 ? 8 : 0);
        fetchCtx = (long) priv << 56;
        dataCtx = (dataPriv | bits) << 56;
    }

    // ---------------------------------------------------------------- TLB

    void flushTlb() {
        tlbFlushes++;
        superpagesCached = false;
        java.util.Arrays.fill(fetchTag, -1L);
        java.util.Arrays.fill(readTag, -1L);
        java.util.Arrays.fill(writeTag, -1L);
    }

    /**
     * Drops the translations of the page holding {@code va}, in every privilege context: what
     * {@code sfence.vma rs1} asks for. The TLBs hold leaf translations only (never page-table
     * pointers), so nothing else can depend on the changed entry; Linux issues one of these for
     * each page whose mapping it changes, and a full flush there would refill every page in use.
     */
    void flushTlbPage(long va) {
        pageFlushes++;
        long vpn = va >>> 12;
        int i = (int) vpn & TLB_MASK;
        dropIfMaps(fetchTag, fetchLevel, i, vpn);
        dropIfMaps(readTag, readLevel, i, vpn);
        dropIfMaps(writeTag, writeLevel, i, vpn);
        if (superpagesCached) {
            // a superpage's other 4 KiB slices sit at other indexes and came from the same leaf PTE
            for (int k = 0; k < TLB_SIZE; k++) {
                if (fetchLevel[k] != 0) dropIfMaps(fetchTag, fetchLevel, k, vpn);
                if (readLevel[k] != 0) dropIfMaps(readTag, readLevel, k, vpn);
                if (writeLevel[k] != 0) dropIfMaps(writeTag, writeLevel, k, vpn);
            }
        }
    }

    /** Invalidates entry {@code k} if the page (or superpage) it caches holds page number {@code vpn}. */
    private static void dropIfMaps(long[] tag, byte[] level, int k, long vpn) {
        int shift = 9 * level[k];
        if (((tag[k] & VPN_BITS) >>> shift) == ((vpn & VPN_BITS) >>> shift)) tag[k] = -1L;
    }

    /** The tag's low bits are the page number; its high byte is the privilege context. */
    private static final long VPN_BITS = (1L << 56) - 1;

    /** Records that a TLB fill at leaf {@code level} happened; returns the level as stored per entry. */
    byte noteLevel(int level) {
        if (level != 0) superpagesCached = true;
        return (byte) level;
    }

    // ---------------------------------------------------------------- memory access, hot paths

    Trap fault(int cause, long tval) {
        // an illegal instruction's tval is its encoding, zero-extended (callers pass the int insn)
        return trap.set(cause, cause == Trap.ILLEGAL ? tval & 0xffffffffL : tval);
    }

    // The interpreter's loads and stores: the data TLB's fast path in tlbLoadNN/tlbStoreNN below
    long load8(long va) { return tlbLoad8(va, readTag, readOff, dataCtx, this); }
    long load16(long va) { return tlbLoad16(va, readTag, readOff, dataCtx, this); }
    long load32(long va) { return tlbLoad32(va, readTag, readOff, dataCtx, this); }
    long load64(long va) { return tlbLoad64(va, readTag, readOff, dataCtx, this); }
    void store8(long va, long v) { tlbStore8(va, v, writeTag, writeOff, dataCtx, this); }
    void store16(long va, long v) { tlbStore16(va, v, writeTag, writeOff, dataCtx, this); }
    void store32(long va, long v) { tlbStore32(va, v, writeTag, writeOff, dataCtx, this); }
    void store64(long va, long v) { tlbStore64(va, v, writeTag, writeOff, dataCtx, this); }

    // ---- loads and stores through the data TLB, its slow path on a miss
    // The TLB's read or write half and the data context are arguments so that a translated region can
    // pass them from its locals: with them read from the hart, the region's code reloaded and
    // null-checked the TLB's arrays after every store to guest memory.

    static long tlbLoad8(long va, long[] tag, long[] off, long ctx, Hart h) {
        long vpn = va >>> 12;
        int i = (int) vpn & TLB_MASK;
        if (tag[i] == (vpn | ctx)) return HOST.get(ValueLayout.JAVA_BYTE, off[i] + (va & 0xfff));
        return (byte) h.mmu.loadSlow(va, 1);
    }

    static long tlbLoad16(long va, long[] tag, long[] off, long ctx, Hart h) {
        long vpn = va >>> 12;
        int i = (int) vpn & TLB_MASK;
        if (tag[i] == (vpn | ctx) && (va & 0xfff) <= 0xffe) return HOST.get(SHORT, off[i] + (va & 0xfff));
        return (short) h.mmu.loadSlow(va, 2);
    }

    static long tlbLoad32(long va, long[] tag, long[] off, long ctx, Hart h) {
        long vpn = va >>> 12;
        int i = (int) vpn & TLB_MASK;
        if (tag[i] == (vpn | ctx) && (va & 0xfff) <= 0xffc) return HOST.get(INT, off[i] + (va & 0xfff));
        return (int) h.mmu.loadSlow(va, 4);
    }

    static long tlbLoad64(long va, long[] tag, long[] off, long ctx, Hart h) {
        long vpn = va >>> 12;
        int i = (int) vpn & TLB_MASK;
        if (tag[i] == (vpn | ctx) && (va & 0xfff) <= 0xff8) return HOST.get(LONG, off[i] + (va & 0xfff));
        return h.mmu.loadSlow(va, 8);
    }

    static void tlbStore8(long va, long v, long[] tag, long[] off, long ctx, Hart h) {
        long vpn = va >>> 12;
        int i = (int) vpn & TLB_MASK;
        if (tag[i] == (vpn | ctx)) HOST.set(ValueLayout.JAVA_BYTE, off[i] + (va & 0xfff), (byte) v);
        else h.mmu.storeSlow(va, 1, v);
    }

    static void tlbStore16(long va, long v, long[] tag, long[] off, long ctx, Hart h) {
        long vpn = va >>> 12;
        int i = (int) vpn & TLB_MASK;
        if (tag[i] == (vpn | ctx) && (va & 0xfff) <= 0xffe) HOST.set(SHORT, off[i] + (va & 0xfff), (short) v);
        else h.mmu.storeSlow(va, 2, v);
    }

    static void tlbStore32(long va, long v, long[] tag, long[] off, long ctx, Hart h) {
        long vpn = va >>> 12;
        int i = (int) vpn & TLB_MASK;
        if (tag[i] == (vpn | ctx) && (va & 0xfff) <= 0xffc) HOST.set(INT, off[i] + (va & 0xfff), (int) v);
        else h.mmu.storeSlow(va, 4, v);
    }

    static void tlbStore64(long va, long v, long[] tag, long[] off, long ctx, Hart h) {
        long vpn = va >>> 12;
        int i = (int) vpn & TLB_MASK;
        if (tag[i] == (vpn | ctx) && (va & 0xfff) <= 0xff8) HOST.set(LONG, off[i] + (va & 0xfff), v);
        else h.mmu.storeSlow(va, 8, v);
    }

    /**
     * The guest-RAM offset of the instruction at virtual address {@code va} if its page is in the
     * fetch TLB (so fetching it is allowed in the current mode), else -1. For translated blocks that
     * chain to a successor in another page or through a register (see {@link Block#exits}).
     */
    final long codeOffset(long va) {
        long vpn = va >>> 12;
        int i = (int) vpn & TLB_MASK;
        return fetchTag[i] == (vpn | fetchCtx) ? fetchOff[i] + (va & 0xfff) : -1;
    }

    // ---------------------------------------------------------------- the interpreter

    /** Executes up to {@code budget} instructions, stopping early at WFI or when attention is requested. */
    void execute(int budget) {
        final long[] x = this.x;
        final MemorySegment ram = this.ram;
        long pc = this.pc;
        int done = 0;
        // Fetch cache: the guest-RAM offset of the page holding pc, valid while pc stays in page fetchVpn.
        // fetchHost: the same page's host address, for reading instructions through HOST (as the data TLB does)
        long fetchVpn = -1, fetchPage = 0, fetchHost = 0;
        // true when pc was just set by a jump, a taken branch or a translated block: a block may start here
        boolean jumped = true;
        // the translated block that ran last, if execution went straight from it to the current pc
        Block prev = null;
        // a block whose exit to the current pc has no successor linked yet (see Block.exits)
        Block linkSrc = null;
        while (true) {
            try {
                while (done < budget) {
                    // ---- fetch ----
                    int insn, len;
                    long vpn = pc >>> 12;
                    if (vpn != fetchVpn) {
                        int i = (int) vpn & TLB_MASK;
                        if (fetchTag[i] != (vpn | fetchCtx)) {
                            fetchMisses++;
                            mmu.fillFetch(pc);
                        }
                        fetchVpn = vpn;
                        fetchPage = fetchOff[i];
                        fetchHost = ramAddress + fetchPage;
                    }
                    int po = (int) pc & 0xfff;
                    if (jumped && TRANSLATE && budget - done < BlockTranslator.MAX_INSTRUCTIONS && budget >= BlockTranslator.MAX_INSTRUCTIONS) {
                        // Too little of the slice is left to enter a block here. End the slice now rather than
                        // interpret the rest of it: the run loop starts the next one at once (having polled
                        // interrupts), and this jump target runs translated. Chained blocks routinely leave a
                        // few dozen instructions of a slice, and interpreting them was measured to cost more
                        // than the translated code around them.
                        this.pc = pc;
                        instret += done;
                        return;
                    }
                    if (jumped && TRANSLATE && budget - done >= BlockTranslator.MAX_INSTRUCTIONS) {
                        // at a jump target: run its translated block if there is one (or it just became hot)
                        long off = fetchPage + po;
                        // the block that followed last time saves a hash lookup
                        Block b = prev != null && prev.nextOffset == off ? prev.next : null;
                        if (b == null || !b.valid(ram)) {
                            b = blocks.get(off);
                            if (b != null && !b.valid(ram)) b = null;
                            if (b == null && blocks.heat(off, HOT_THRESHOLD)) {
                                if (asyncTranslation) {
                                    translationWorker().request(off);
                                } else {
                                    long t0 = System.nanoTime();
                                    b = BlockTranslator.translate(ram, ramSize, ramBase, off);
                                    translateNanos += System.nanoTime() - t0;
                                    if (b != null) {
                                        blocks.put(off, b);
                                        blocksTranslated++;
                                    }
                                }
                            }
                        }
                        if (prev != null && b != null && prev.next != b) {
                            prev.next = b;
                            prev.nextOffset = off;
                        }
                        if (linkSrc != null) {
                            if (b != null) linkSrc.exits[linkSite] = b;
                            linkSrc = null;
                        }
                        if (b != null) {
                            blockExecuted = 0;
                            chainLeft = CHAIN ? (budget - done) / BlockTranslator.MAX_INSTRUCTIONS - 1 : 0;
                            try {
                                pc = b.run(this, x, pc);
                            } catch (Trap t) {
                                done += blockExecuted; // the block's handler added those before the faulting one
                                pc = blockFaultPc + blockFaultBlock.offsets[blockFaultIndex];
                                linkFrom = null;
                                throw t;
                            }
                            linkSrc = linkFrom;
                            linkFrom = null;
                            done += blockExecuted;
                            if (BlockProfile.ON) b.profiledInstructions += blockExecuted;
                            blockRuns++;
                            blockInstructions += blockExecuted;
                            prev = b;
                            if (sliceEnd) { // a CSR write in the region asked for the run loop (see Privileged.csrOp)
                                sliceEnd = false;
                                this.pc = pc;
                                instret += done;
                                return;
                            }
                            continue;
                        }
                        jumped = false;
                        prev = null;
                    }
                    linkSrc = null;
                    if (BlockProfile.ON) BlockProfile.countInterpreted(this, ramBase + fetchPage + po);
                    if (po != 0xffe) {
                        insn = HOST.get(INT, fetchHost + po);
                    } else {
                        insn = HOST.get(SHORT, fetchHost + po) & 0xffff;
                        if ((insn & 3) == 3) {
                            insn |= mmu.fetchHalf(pc + 2) << 16;
                            // regions never hold an instruction that crosses a page: let one start after it,
                            // or the interpreter would run on through the next page up to the next jump
                            jumped = true;
                        }
                    }
                    if ((insn & 3) != 3) {
                        int c = insn & 0xffff;
                        insn = Rvc.EXPAND[c];
                        len = 2;
                        if (insn == 0) throw fault(Trap.ILLEGAL, c);
                    } else {
                        len = 4;
                    }
                    // ---- execute ---- (an instruction counts as retired once it completed: a trapping one does not)
                    // One flat switch on opcode and funct3 together: a single indirect jump per instruction,
                    // where a switch on the opcode followed by one on funct3 would cost two.
                    int rd = (insn >>> 7) & 31, rs1 = (insn >>> 15) & 31;
                    switch (((insn >>> 2) & 0x1f) | (insn >>> 7 & 0xe0)) {
                        // OP-IMM
                        case OP_IMM -> x[rd] = x[rs1] + (insn >> 20); // addi
                        case OP_IMM | 1 << 5 -> { // slli
                            if ((insn >>> 26) != 0) throw fault(Trap.ILLEGAL, insn);
                            x[rd] = x[rs1] << (insn >> 20);
                        }
                        case OP_IMM | 2 << 5 -> x[rd] = x[rs1] < (insn >> 20) ? 1 : 0;
                        case OP_IMM | 3 << 5 -> x[rd] = Long.compareUnsigned(x[rs1], insn >> 20) < 0 ? 1 : 0;
                        case OP_IMM | 4 << 5 -> x[rd] = x[rs1] ^ (insn >> 20);
                        case OP_IMM | 5 << 5 -> {
                            int f6 = insn >>> 26;
                            if (f6 == 0) x[rd] = x[rs1] >>> (insn >> 20);
                            else if (f6 == 0x10) x[rd] = x[rs1] >> (insn >> 20);
                            else throw fault(Trap.ILLEGAL, insn);
                        }
                        case OP_IMM | 6 << 5 -> x[rd] = x[rs1] | (insn >> 20);
                        case OP_IMM | 7 << 5 -> x[rd] = x[rs1] & (insn >> 20);
                        // LOAD
                        case LOAD -> x[rd] = load8(x[rs1] + (insn >> 20));
                        case LOAD | 1 << 5 -> x[rd] = load16(x[rs1] + (insn >> 20));
                        case LOAD | 2 << 5 -> x[rd] = load32(x[rs1] + (insn >> 20));
                        case LOAD | 3 << 5 -> x[rd] = load64(x[rs1] + (insn >> 20));
                        case LOAD | 4 << 5 -> x[rd] = load8(x[rs1] + (insn >> 20)) & 0xff;
                        case LOAD | 5 << 5 -> x[rd] = load16(x[rs1] + (insn >> 20)) & 0xffff;
                        case LOAD | 6 << 5 -> x[rd] = load32(x[rs1] + (insn >> 20)) & 0xffffffffL;
                        // STORE
                        case STORE -> store8(x[rs1] + sImm(insn), x[(insn >>> 20) & 31]);
                        case STORE | 1 << 5 -> store16(x[rs1] + sImm(insn), x[(insn >>> 20) & 31]);
                        case STORE | 2 << 5 -> store32(x[rs1] + sImm(insn), x[(insn >>> 20) & 31]);
                        case STORE | 3 << 5 -> store64(x[rs1] + sImm(insn), x[(insn >>> 20) & 31]);
                        // BRANCH
                        case BRANCH -> { if (x[rs1] == x[(insn >>> 20) & 31]) { pc += bImm(insn); jumped = true; done++; continue; } }
                        case BRANCH | 1 << 5 -> { if (x[rs1] != x[(insn >>> 20) & 31]) { pc += bImm(insn); jumped = true; done++; continue; } }
                        case BRANCH | 4 << 5 -> { if (x[rs1] < x[(insn >>> 20) & 31]) { pc += bImm(insn); jumped = true; done++; continue; } }
                        case BRANCH | 5 << 5 -> { if (x[rs1] >= x[(insn >>> 20) & 31]) { pc += bImm(insn); jumped = true; done++; continue; } }
                        case BRANCH | 6 << 5 -> {
                            if (Long.compareUnsigned(x[rs1], x[(insn >>> 20) & 31]) < 0) { pc += bImm(insn); jumped = true; done++; continue; }
                        }
                        case BRANCH | 7 << 5 -> {
                            if (Long.compareUnsigned(x[rs1], x[(insn >>> 20) & 31]) >= 0) { pc += bImm(insn); jumped = true; done++; continue; }
                        }
                        // OP: funct7 0 (base), 0x20 (sub, sra), 1 (M extension)
                        case OP -> {
                            int f7 = insn >>> 25;
                            long a = x[rs1], b = x[(insn >>> 20) & 31];
                            if (f7 == 0) x[rd] = a + b;
                            else if (f7 == 0x20) x[rd] = a - b;
                            else if (f7 == 1) x[rd] = a * b;
                            else throw fault(Trap.ILLEGAL, insn);
                        }
                        case OP | 1 << 5, OP | 2 << 5, OP | 3 << 5, OP | 4 << 5, OP | 5 << 5, OP | 6 << 5, OP | 7 << 5 ->
                                x[rd] = op(insn, x[rs1], x[(insn >>> 20) & 31]);
                        case OP_IMM_32 -> x[rd] = (int) x[rs1] + (insn >> 20); // addiw
                        case OP_IMM_32 | 1 << 5, OP_IMM_32 | 5 << 5 -> x[rd] = shiftW(insn, (int) x[rs1]);
                        case OP_32, OP_32 | 1 << 5, OP_32 | 4 << 5, OP_32 | 5 << 5, OP_32 | 6 << 5, OP_32 | 7 << 5 ->
                                x[rd] = op32(insn, (int) x[rs1], (int) x[(insn >>> 20) & 31]);
                        case LUI | 0 << 5, LUI | 1 << 5, LUI | 2 << 5, LUI | 3 << 5, LUI | 4 << 5, LUI | 5 << 5, LUI | 6 << 5, LUI | 7 << 5 -> x[rd] = insn & 0xfffff000;
                        case AUIPC | 0 << 5, AUIPC | 1 << 5, AUIPC | 2 << 5, AUIPC | 3 << 5, AUIPC | 4 << 5, AUIPC | 5 << 5, AUIPC | 6 << 5, AUIPC | 7 << 5 -> x[rd] = pc + (insn & 0xfffff000);
                        case JAL | 0 << 5, JAL | 1 << 5, JAL | 2 << 5, JAL | 3 << 5, JAL | 4 << 5, JAL | 5 << 5, JAL | 6 << 5, JAL | 7 << 5 -> {
                            x[rd] = pc + len;
                            x[0] = 0;
                            pc += jImm(insn);
                            jumped = true;
                            done++;
                            continue;
                        }
                        case JALR -> {
                            long target = (x[rs1] + (insn >> 20)) & ~1L;
                            x[rd] = pc + len;
                            x[0] = 0;
                            pc = target;
                            jumped = true;
                            done++;
                            continue;
                        }
                        // Instructions that end translated blocks (fences, SYSTEM, atomics, floating point) set
                        // jumped, so a block may start right after them instead of the interpreter running on
                        // to the next jump.
                        case MISC_MEM -> { VarHandle.fullFence(); jumped = true; } // fence
                        case MISC_MEM | 1 << 5 -> { Block.codeChanged(); jumped = true; } // fence.i: blocks check their bytes again
                        case SYSTEM | 0 << 5, SYSTEM | 1 << 5, SYSTEM | 2 << 5, SYSTEM | 3 << 5, SYSTEM | 5 << 5, SYSTEM | 6 << 5, SYSTEM | 7 << 5 -> {
                            this.pc = pc;
                            // bring instret up to date (the instructions before this one) for counter reads
                            instret += done;
                            budget -= done;
                            done = 0;
                            int r = (insn & 0x7000) == 0 ? Privileged.system(this, insn) : Privileged.csr(this, insn, len);
                            if (r != Privileged.NEXT) {
                                // the privileged op changed pc (trap return) or wants the block to end (WFI, CSR side effects)
                                pc = r == Privileged.JUMPED ? this.pc : pc + len;
                                x[0] = 0;
                                this.pc = pc;
                                instret += 1;
                                return;
                            }
                            jumped = true;
                        }
                        case AMO | 2 << 5, AMO | 3 << 5 -> { Atomics.execute(this, insn); jumped = true; }
                        case LOAD_FP | 2 << 5 -> { // flw
                            requireFp(insn);
                            f[rd] = 0xffffffff00000000L | (load32(x[rs1] + (insn >> 20)) & 0xffffffffL);
                            mstatus |= Csr.FS;
                            jumped = true;
                        }
                        case LOAD_FP | 3 << 5 -> { // fld
                            requireFp(insn);
                            f[rd] = load64(x[rs1] + (insn >> 20));
                            mstatus |= Csr.FS;
                            jumped = true;
                        }
                        case STORE_FP | 2 << 5 -> { requireFp(insn); store32(x[rs1] + sImm(insn), f[(insn >>> 20) & 31]); jumped = true; }
                        case STORE_FP | 3 << 5 -> { requireFp(insn); store64(x[rs1] + sImm(insn), f[(insn >>> 20) & 31]); jumped = true; }
                        case MADD | 0 << 5, MADD | 1 << 5, MADD | 2 << 5, MADD | 3 << 5, MADD | 4 << 5, MADD | 5 << 5, MADD | 6 << 5, MADD | 7 << 5, MSUB | 0 << 5, MSUB | 1 << 5, MSUB | 2 << 5, MSUB | 3 << 5, MSUB | 4 << 5, MSUB | 5 << 5, MSUB | 6 << 5, MSUB | 7 << 5, NMSUB | 0 << 5, NMSUB | 1 << 5, NMSUB | 2 << 5, NMSUB | 3 << 5, NMSUB | 4 << 5, NMSUB | 5 << 5, NMSUB | 6 << 5, NMSUB | 7 << 5, NMADD | 0 << 5, NMADD | 1 << 5, NMADD | 2 << 5, NMADD | 3 << 5, NMADD | 4 << 5, NMADD | 5 << 5, NMADD | 6 << 5, NMADD | 7 << 5, OP_FP | 0 << 5, OP_FP | 1 << 5, OP_FP | 2 << 5, OP_FP | 3 << 5, OP_FP | 4 << 5, OP_FP | 5 << 5, OP_FP | 6 << 5, OP_FP | 7 << 5 -> {
                            requireFp(insn);
                            if (!FloatUnit.execute(insn, x, f, fcsr)) throw fault(Trap.ILLEGAL, insn);
                            mstatus |= Csr.FS;
                            jumped = true;
                        }
                        default -> throw fault(Trap.ILLEGAL, insn);
                    }
                    x[0] = 0;
                    pc += len;
                    done++;
                }
                this.pc = pc;
                instret += done;
                return;
            } catch (Trap t) {
                x[0] = 0;
                linkSrc = null;
                takeTrap(false, t.cause, t.tval, pc);
                pc = this.pc;
                budget--; // a storm of traps (say a broken trap vector) still ends the block
                fetchVpn = -1;
                jumped = true;
                prev = null;
                if (attention) {
                    instret += done;
                    return;
                }
            }
        }
    }

    // major opcodes >>> 2, the low five bits of the dispatch key (funct3 is the high three)
    static final int LOAD = 0x00, LOAD_FP = 0x01, MISC_MEM = 0x03, OP_IMM = 0x04, AUIPC = 0x05, OP_IMM_32 = 0x06,
            STORE = 0x08, STORE_FP = 0x09, AMO = 0x0b, OP = 0x0c, LUI = 0x0d, OP_32 = 0x0e, MADD = 0x10, MSUB = 0x11,
            NMSUB = 0x12, NMADD = 0x13, OP_FP = 0x14, BRANCH = 0x18, JALR = 0x19, JAL = 0x1b, SYSTEM = 0x1c;

    private static long sImm(int insn) { return ((insn >> 25) << 5) | ((insn >>> 7) & 31); }

    static long bImm(int insn) {
        return ((insn >> 31) << 12) | (((insn >>> 7) & 1) << 11) | (((insn >>> 25) & 0x3f) << 5) | (((insn >>> 8) & 0xf) << 1);
    }

    static long jImm(int insn) {
        return ((insn >> 31) << 20) | (insn & 0xff000) | (((insn >>> 20) & 1) << 11) | (((insn >>> 21) & 0x3ff) << 1);
    }

    /** OP with funct3 != 0: shifts, compares, logic, and the M extension's high multiplies and divides. */
    private long op(int insn, long a, long b) {
        int f7 = insn >>> 25, f3 = (insn >>> 12) & 7;
        if (f7 == 0) {
            return switch (f3) {
                case 1 -> a << b;
                case 2 -> a < b ? 1 : 0;
                case 3 -> Long.compareUnsigned(a, b) < 0 ? 1 : 0;
                case 4 -> a ^ b;
                case 5 -> a >>> b;
                case 6 -> a | b;
                default -> a & b;
            };
        }
        if (f7 == 0x20 && f3 == 5) return a >> b;
        if (f7 == 1) return Alu.mulDiv(f3, a, b);
        throw fault(Trap.ILLEGAL, insn);
    }

    /** slliw, srliw, sraiw. */
    private long shiftW(int insn, int a) {
        int f7 = insn >>> 25, sh = (insn >>> 20) & 31;
        if ((insn & 0x7000) == 0x1000) {
            if (f7 != 0) throw fault(Trap.ILLEGAL, insn);
            return a << sh;
        }
        if (f7 == 0) return a >>> sh;
        if (f7 == 0x20) return a >> sh;
        throw fault(Trap.ILLEGAL, insn);
    }

    /** OP-32: addw, subw, sllw, srlw, sraw and the M extension's word forms. */
    private long op32(int insn, int a, int b) {
        int f7 = insn >>> 25, f3 = (insn >>> 12) & 7;
        if (f7 == 0) {
            switch (f3) {
                case 0: return a + b;
                case 1: return a << b;
                case 5: return a >>> b;
                default: throw fault(Trap.ILLEGAL, insn);
            }
        }
        if (f7 == 0x20) {
            if (f3 == 0) return a - b;
            if (f3 == 5) return a >> b;
            throw fault(Trap.ILLEGAL, insn);
        }
        if (f7 == 1) return Alu.mulDivW(f3, a, b, insn, this);
        throw fault(Trap.ILLEGAL, insn);
    }

    private void requireFp(int insn) {
        if ((mstatus & Csr.FS) == 0) throw fault(Trap.ILLEGAL, insn);
    }
}
