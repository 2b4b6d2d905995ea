package dev.visor.engine.riscv;

import org.junit.jupiter.api.Test;

import java.util.function.Consumer;

import static dev.visor.engine.riscv.Asm.*;
import static dev.visor.engine.riscv.PageTables.*;
import static dev.visor.engine.riscv.TestMachine.BASE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sv39 and Sv48 translation with hand-built page tables: M-mode code sets satp and enters S-mode (or
 * U-mode) with mret; the test then checks translated loads and stores, A/D updates and page faults.
 */
class PagingTest {
    static final long RAM = 8L << 20;
    static final long TABLES = BASE + 0x10_0000;
    static final long PAGE_A = BASE + 0x2_0000, PAGE_B = BASE + 0x2_1000, PAGE_C = BASE + 0x2_2000;
    static final long MEGA_PA = BASE + 0x20_0000;   // 2 MiB aligned
    static final long VA_4K = 0x4000_0000L;         // Sv39 root[1]
    static final long VA_2M = 0x0020_0000L;         // root[0] -> L1[1]

    final TestMachine m = new TestMachine(1, RAM);
    PageTables pt;

    /** Tables with the code identity-mapped by a 1 GiB page (RWX, not U, A/D clear). */
    PageTables tables(int levels) {
        pt = new PageTables(m.memory, levels, TABLES);
        pt.map(BASE, BASE, 2, RWX | G);
        return pt;
    }

    /**
     * Assembles: M-mode prologue (satp, MPP = {@code priv}, mret) then {@code body} at label "s", then
     * "end" (spin) and "mtrap" (spin, mtvec). Loads it and resets the hart to it.
     */
    void program(int priv, Consumer<Asm> body) {
        long satp = pt.satp();
        Asm a = new Asm(BASE);
        a.li(T0, satp);
        a.csrw(Csr.SATP, T0);
        a.sfenceVma(0, 0);
        a.li(T0, 3L << 11);
        a.csrc(Csr.MSTATUS, T0);
        a.li(T0, (long) priv << 11);
        a.csrs(Csr.MSTATUS, T0);
        a.la(T0, "s");
        a.csrw(Csr.MEPC, T0);
        a.mret();
        a.label("s");
        body.accept(a);
        a.label("end").spin();
        a.label("mtrap").spin();
        a.label("strap").spin();
        m.asm = a;
        m.load(a).reset(BASE);
        m.mtvec("mtrap");
        m.hart.stvec = a.addressOf("strap");
    }

    /** Runs to "end" (returns false) or to a trap handler (returns true). */
    boolean run() {
        long end = m.addressOf("end"), mtrap = m.addressOf("mtrap"), strap = m.addressOf("strap");
        for (int n = 0; n < 100_000; n++) {
            long pc = m.hart.pc;
            if (pc == end) return false;
            if (pc == mtrap || pc == strap) return true;
            m.hart.execute(1);
        }
        throw new AssertionError("runaway, pc=0x" + Long.toHexString(m.hart.pc));
    }

    void assertFault(int cause, long tval) {
        assertTrue(run(), "expected a trap");
        assertEquals(cause, m.hart.mcause, () -> String.format("mcause (mtval 0x%x, mepc 0x%x)", m.hart.mtval, m.hart.mepc));
        assertEquals(tval, m.hart.mtval, "mtval = faulting virtual address");
    }

    void assertNoFault() {
        assertFalse(run(), () -> String.format("unexpected trap: mcause %d mtval 0x%x mepc 0x%x", m.hart.mcause, m.hart.mtval, m.hart.mepc));
    }

    // ---------------------------------------------------------------- translation

    @Test
    void sv39PagesOfEverySize() {
        tables(3);
        long pte4k = pt.map(VA_4K, PAGE_A, 0, RW);
        long pte2m = pt.map(VA_2M, MEGA_PA, 1, RW);
        m.memory.writeLong(PAGE_A + 8, 0x1111);
        m.memory.writeLong(MEGA_PA + 0x1234 * 8, 0x2222);
        program(Hart.PRIV_S, a -> {
            a.li(S0, VA_4K);
            a.ld(A0, S0, 8);
            a.li(T1, 0x4444);
            a.sd(T1, S0, 16);
            a.li(S1, VA_2M + 0x1234 * 8);
            a.ld(A1, S1, 0);
            a.sd(T1, S1, 8);
            a.li(S2, PAGE_B + 24);         // through the gigapage: identity
            a.sd(T1, S2, 0);
            a.csrr(A2, Csr.SATP);
        });
        assertNoFault();
        assertEquals(Hart.PRIV_S, m.hart.priv);
        assertEquals(0x1111, m.x(A0));
        assertEquals(0x2222, m.x(A1));
        assertEquals(0x4444, m.memory.readLong(PAGE_A + 16));
        assertEquals(0x4444, m.memory.readLong(MEGA_PA + 0x1234 * 8 + 8));
        assertEquals(0x4444, m.memory.readLong(PAGE_B + 24));
        assertEquals(pt.satp(), m.x(A2));
        // accessed and dirty bits were set in the leaves
        assertEquals(A | D, m.memory.readLong(pte4k) & (A | D));
        assertEquals(A | D, m.memory.readLong(pte2m) & (A | D));
        assertEquals(A | D, pt.pte(BASE, 2) & (A | D), "code (fetch) and the store through the gigapage");
        // non-leaf entries are left alone
        assertEquals(0, m.memory.readLong(pt.pteAddress(VA_4K, 2)) & (A | D));
    }

    /** A leaf PTE for {@code pa} with {@code flags}, accessed and dirty. */
    static long leaf(long pa, long flags) { return (pa >>> 12) << 10 | flags | A | D; }

    @Test
    void sfenceForOnePageDropsThatPageOnly() {
        tables(3);
        pt.map(VA_4K, PAGE_A, 0, RW);
        pt.map(VA_4K + 0x1000, PAGE_B, 0, RW);
        m.memory.writeLong(PAGE_A, 0xa);
        m.memory.writeLong(PAGE_B, 0xb);
        m.memory.writeLong(PAGE_C, 0xc);
        long pteA = pt.pteAddress(VA_4K, 0), pteB = pt.pteAddress(VA_4K + 0x1000, 0);
        program(Hart.PRIV_S, a -> {
            a.li(S0, VA_4K);
            a.li(S1, VA_4K + 0x1000);
            a.ld(A0, S0, 0);               // both pages enter the TLB
            a.ld(A1, S1, 0);
            a.li(T1, leaf(PAGE_C, RW));    // both now map PAGE_C
            a.li(T0, pteA);
            a.sd(T1, T0, 0);
            a.li(T0, pteB);
            a.sd(T1, T0, 0);
            a.sfenceVma(S0, 0);            // ... but only the first page is fenced
            a.ld(A2, S0, 0);
            a.ld(A3, S1, 0);
            a.sfenceVma(0, 0);
            a.ld(A4, S1, 0);
        });
        assertNoFault();
        assertEquals(0xa, m.x(A0));
        assertEquals(0xb, m.x(A1));
        assertEquals(0xc, m.x(A2), "the fenced page uses its new mapping");
        assertEquals(0xb, m.x(A3), "an unfenced page may keep its cached translation");
        assertEquals(0xc, m.x(A4), "a full fence drops everything");
    }

    @Test
    void sfenceForOneAddressDropsTheWholeSuperpage() {
        tables(3);
        long otherMega = BASE + 0x40_0000; // another 2 MiB-aligned region of RAM
        pt.map(VA_2M, MEGA_PA, 1, RW);
        m.memory.writeLong(MEGA_PA + 0x5000, 0x1);
        m.memory.writeLong(otherMega + 0x5000, 0x2);
        long pte = pt.pteAddress(VA_2M, 1);
        program(Hart.PRIV_S, a -> {
            a.li(S0, VA_2M);
            a.ld(A0, S0, 0);               // two 4 KiB slices of the superpage enter the TLB
            a.li(S1, VA_2M + 0x5000);
            a.ld(A1, S1, 0);
            a.li(T1, leaf(otherMega, RW));
            a.li(T0, pte);
            a.sd(T1, T0, 0);
            a.sfenceVma(S0, 0);            // fences the superpage through its first address
            a.ld(A2, S1, 0);               // another slice: must see the new mapping
        });
        assertNoFault();
        assertEquals(0x1, m.x(A1));
        assertEquals(0x2, m.x(A2), "every slice of a fenced superpage is dropped");
    }

    @Test
    void sv48PagesOfEverySize() {
        pt = new PageTables(m.memory, 4, TABLES);
        pt.map(BASE, BASE, 2, RWX);                             // code: 1 GiB page, under root[0]
        long va512g = 0x0000_0080_0000_0000L;                   // root[1]: a 512 GiB page onto PA 0
        long pteTera = pt.map(va512g, 0, 3, RW);
        long va4k = 0x0000_7fff_ffff_f000L;                     // the highest user half page
        long pte4k = pt.map(va4k, PAGE_A, 0, RW);
        long va2m = 0x0000_0001_0020_0000L;
        pt.map(va2m, MEGA_PA, 1, RW);
        long vaHigh = 0xffff_8000_0000_0000L;                   // lowest address of the upper half
        pt.map(vaHigh, PAGE_C, 0, RW);
        m.memory.writeLong(PAGE_A, 0xa);
        m.memory.writeLong(MEGA_PA + 0x100, 0xb);
        m.memory.writeLong(PAGE_B, 0xc);
        m.memory.writeLong(PAGE_C + 8, 0xd);
        program(Hart.PRIV_S, a -> {
            a.li(S0, va4k);
            a.ld(A0, S0, 0);
            a.li(S0, va2m + 0x100);
            a.ld(A1, S0, 0);
            a.li(S0, va512g + PAGE_B);                          // PA 0 + PAGE_B
            a.ld(A2, S0, 0);
            a.li(S0, vaHigh);
            a.ld(A3, S0, 8);
            a.li(T1, 0x77);
            a.sd(T1, S0, 16);
        });
        assertNoFault();
        assertEquals(0xa, m.x(A0));
        assertEquals(0xb, m.x(A1));
        assertEquals(0xc, m.x(A2));
        assertEquals(0xd, m.x(A3));
        assertEquals(0x77, m.memory.readLong(PAGE_C + 16));
        assertEquals(A, m.memory.readLong(pte4k) & (A | D), "read only: A without D");
        assertEquals(A, m.memory.readLong(pteTera) & (A | D));
    }

    @Test
    void sv48NonCanonicalAddressFaults() {
        pt = new PageTables(m.memory, 4, TABLES);
        pt.map(BASE, BASE, 2, RWX);
        long bad = 0x0000_8000_0000_0000L;                      // bit 47 set, upper bits clear
        program(Hart.PRIV_S, a -> {
            a.li(S0, bad);
            a.ld(A0, S0, 0);
        });
        assertFault(Trap.LOAD_PAGE_FAULT, bad);
    }

    @Test
    void sv39NonCanonicalAddressFaults() {
        tables(3);
        long bad = 0x0000_0040_0000_0000L;                      // bit 38 set, 63..39 clear
        program(Hart.PRIV_S, a -> {
            a.li(S0, bad);
            a.sd(A0, S0, 0);
        });
        assertFault(Trap.STORE_PAGE_FAULT, bad);
        tables(3);
        long bad2 = 0xffff_ff00_0000_0000L | 0x10;              // bit 38 clear, upper set
        program(Hart.PRIV_S, a -> {
            a.li(S0, bad2);
            a.ld(A0, S0, 0);
        });
        assertFault(Trap.LOAD_PAGE_FAULT, bad2);
        // the canonical negative half is fine (as a walk: here it is simply not mapped)
        tables(3);
        long upper = 0xffff_ffc0_0000_0000L;
        pt.map(upper, PAGE_A, 0, RW);
        program(Hart.PRIV_S, a -> {
            a.li(S0, upper);
            a.ld(A0, S0, 0);
        });
        assertNoFault();
    }

    // ---------------------------------------------------------------- faults

    @Test
    void missingValidBitFaultsForEachAccess() {
        tables(3);
        long pte = pt.map(VA_4K, PAGE_A, 0, RW & ~V);
        program(Hart.PRIV_S, a -> {
            a.li(S0, VA_4K + 0x10);
            a.ld(A0, S0, 0);
        });
        assertFault(Trap.LOAD_PAGE_FAULT, VA_4K + 0x10);
        assertEquals(BASE, m.hart.mepc & ~0xfffL, "mepc is the faulting load");
        assertEquals(Hart.PRIV_S, (m.hart.mstatus >>> 11) & 3);
        assertEquals(0, m.memory.readLong(pte) & A, "no A bit on a fault");

        tables(3);
        pt.map(VA_4K, PAGE_A, 0, RW & ~V);
        program(Hart.PRIV_S, a -> {
            a.li(S0, VA_4K + 0x18);
            a.sw(A0, S0, 0);
        });
        assertFault(Trap.STORE_PAGE_FAULT, VA_4K + 0x18);

        tables(3);
        program(Hart.PRIV_S, a -> {
            a.li(S0, VA_4K + 0x20);                // not mapped at all: the L1 entry is missing
            a.jalr(RA, S0, 0);
        });
        assertFault(Trap.INSN_PAGE_FAULT, VA_4K + 0x20);
        assertEquals(VA_4K + 0x20, m.hart.mepc);
    }

    @Test
    void storeToReadOnlyPage() {
        tables(3);
        long pte = pt.map(VA_4K, PAGE_A, 0, V | R);
        m.memory.writeLong(PAGE_A + 0x40, 99);
        program(Hart.PRIV_S, a -> {
            a.li(S0, VA_4K + 0x40);
            a.ld(A0, S0, 0);                   // reading is fine
            a.sd(S0, S0, 0);                   // writing is not
        });
        assertFault(Trap.STORE_PAGE_FAULT, VA_4K + 0x40);
        assertEquals(99, m.x(A0));
        assertEquals(99, m.memory.readLong(PAGE_A + 0x40));
        assertEquals(A, m.memory.readLong(pte) & (A | D), "read set A; the failed store did not set D");
    }

    @Test
    void amoAndScNeedWritePermission() {
        tables(3);
        pt.map(VA_4K, PAGE_A, 0, V | R);
        program(Hart.PRIV_S, a -> {
            a.li(S0, VA_4K);
            a.lrD(A0, S0);                     // LR only reads
            a.amo(AMOADD, true, A1, S0, A0);
        });
        assertFault(Trap.STORE_PAGE_FAULT, VA_4K);
    }

    @Test
    void writeWithoutReadIsReserved() {
        tables(3);
        pt.map(VA_4K, PAGE_A, 0, V | W);
        program(Hart.PRIV_S, a -> {
            a.li(S0, VA_4K);
            a.sd(A0, S0, 0);
        });
        assertFault(Trap.STORE_PAGE_FAULT, VA_4K);
    }

    @Test
    void userPagesFromSupervisorNeedSum() {
        tables(3);
        pt.map(VA_4K, PAGE_A, 0, RW | U);
        m.memory.writeLong(PAGE_A, 5);
        program(Hart.PRIV_S, a -> {
            a.li(S0, VA_4K);
            a.ld(A0, S0, 0);
        });
        assertFault(Trap.LOAD_PAGE_FAULT, VA_4K);

        tables(3);
        pt.map(VA_4K, PAGE_A, 0, RW | U);
        program(Hart.PRIV_S, a -> {
            a.li(T0, Csr.SUM);
            a.csrs(Csr.SSTATUS, T0);
            a.li(S0, VA_4K);
            a.ld(A0, S0, 0);
            a.sd(A0, S0, 8);
        });
        assertNoFault();
        assertEquals(5, m.x(A0));
        assertEquals(5, m.memory.readLong(PAGE_A + 8));
    }

    @Test
    void clearingSumTakesEffectWithoutSfence() {
        tables(3);
        pt.map(VA_4K, PAGE_A, 0, RW | U);
        program(Hart.PRIV_S, a -> {
            a.li(T0, Csr.SUM);
            a.csrs(Csr.SSTATUS, T0);
            a.li(S0, VA_4K);
            a.ld(A0, S0, 0);                   // fills the TLB under SUM = 1
            a.csrc(Csr.SSTATUS, T0);
            a.ld(A1, S0, 0);                   // must fault now
        });
        assertFault(Trap.LOAD_PAGE_FAULT, VA_4K);
    }

    @Test
    void supervisorCannotExecuteUserPagesEvenWithSum() {
        tables(3);
        pt.map(VA_4K, PAGE_A, 0, RWX | U);
        program(Hart.PRIV_S, a -> {
            a.li(T0, Csr.SUM);
            a.csrs(Csr.SSTATUS, T0);
            a.li(S0, VA_4K);
            a.jalr(RA, S0, 0);
        });
        assertFault(Trap.INSN_PAGE_FAULT, VA_4K);
    }

    @Test
    void userModeCannotTouchSupervisorPages() {
        tables(3);
        pt = new PageTables(m.memory, 3, TABLES);
        pt.map(BASE, BASE, 2, RWX | U);        // code is a user page here
        pt.map(VA_4K, PAGE_A, 0, RW);          // supervisor data
        program(Hart.PRIV_U, a -> {
            a.li(S0, VA_4K);
            a.ld(A0, S0, 0);
        });
        assertFault(Trap.LOAD_PAGE_FAULT, VA_4K);
        assertEquals(Hart.PRIV_U, (m.hart.mstatus >>> 11) & 3);

        pt = new PageTables(m.memory, 3, TABLES);
        pt.map(BASE, BASE, 2, RWX);            // code is a supervisor page: U-mode cannot fetch it
        program(Hart.PRIV_U, a -> a.addi(A0, A0, 1));
        assertFault(Trap.INSN_PAGE_FAULT, m.addressOf("s"));
    }

    @Test
    void mxrMakesExecutableReadable() {
        tables(3);
        pt.map(VA_4K, PAGE_A, 0, V | X);
        m.memory.writeLong(PAGE_A, 42);
        program(Hart.PRIV_S, a -> {
            a.li(S0, VA_4K);
            a.ld(A0, S0, 0);
        });
        assertFault(Trap.LOAD_PAGE_FAULT, VA_4K);

        tables(3);
        pt.map(VA_4K, PAGE_A, 0, V | X);
        program(Hart.PRIV_S, a -> {
            a.li(T0, Csr.MXR);
            a.csrs(Csr.SSTATUS, T0);
            a.li(S0, VA_4K);
            a.ld(A0, S0, 0);
        });
        assertNoFault();
        assertEquals(42, m.x(A0));
    }

    @Test
    void misalignedSuperpagesFault() {
        tables(3);
        pt.map(VA_2M, MEGA_PA + 0x1000, 1, RW);     // PPN[0] != 0 in a 2 MiB leaf
        program(Hart.PRIV_S, a -> {
            a.li(S0, VA_2M + 8);
            a.ld(A0, S0, 0);
        });
        assertFault(Trap.LOAD_PAGE_FAULT, VA_2M + 8);

        pt = new PageTables(m.memory, 3, TABLES);
        pt.map(BASE, BASE, 2, RWX);
        pt.map(0x4000_0000L, BASE + (2L << 20), 2, RW); // 1 GiB leaf with PPN[1] != 0
        program(Hart.PRIV_S, a -> {
            a.li(S0, 0x4000_0000L);
            a.sd(A0, S0, 0);
        });
        assertFault(Trap.STORE_PAGE_FAULT, 0x4000_0000L);
    }

    @Test
    void leafAtTheLastLevelIsRequired() {
        // a level-0 entry that points further down (no R/W/X) is a page fault
        tables(3);
        long pte = pt.map(VA_4K, PAGE_A, 0, RW);
        m.memory.writeLong(pte, ((PAGE_A >>> 12) << 10) | V);
        program(Hart.PRIV_S, a -> {
            a.li(S0, VA_4K);
            a.ld(A0, S0, 0);
        });
        assertFault(Trap.LOAD_PAGE_FAULT, VA_4K);
    }

    @Test
    void pageCrossingStoreChecksBothPagesFirst() {
        tables(3);
        pt.map(VA_4K, PAGE_A, 0, RW);
        pt.map(VA_4K + 0x1000, PAGE_B, 0, V | R);   // second page read-only
        m.memory.writeLong(PAGE_A + 0xff8, 0x1111_1111_1111_1111L);
        program(Hart.PRIV_S, a -> {
            a.li(S0, VA_4K + 0xffc);
            a.li(A0, -1);
            a.sd(A0, S0, 0);
        });
        assertTrue(run());
        assertEquals(Trap.STORE_PAGE_FAULT, m.hart.mcause);
        long tval = m.hart.mtval;
        assertTrue(tval >= VA_4K + 0xffc && tval < VA_4K + 0xffc + 8, "mtval within the access: 0x" + Long.toHexString(tval));
        assertEquals(0x1111_1111_1111_1111L, m.memory.readLong(PAGE_A + 0xff8), "first page left untouched");
    }

    @Test
    void pageCrossingLoadTranslatesEachPage() {
        tables(3);
        pt.map(VA_4K, PAGE_C, 0, RW);
        pt.map(VA_4K + 0x1000, PAGE_A, 0, RW);      // physically before the first page
        m.memory.writeInt(PAGE_C + 0xffc, 0x4433_2211);
        m.memory.writeInt(PAGE_A, 0x8877_6655);
        program(Hart.PRIV_S, a -> {
            a.li(S0, VA_4K + 0xffc);
            a.ld(A0, S0, 0);
        });
        assertNoFault();
        assertEquals(0x8877_6655_4433_2211L, m.x(A0));
    }

    @Test
    void delegatedPageFaultGoesToSupervisor() {
        tables(3);
        program(Hart.PRIV_S, a -> {
            a.li(S0, VA_4K + 0x123);
            a.ld(A0, S0, 0);
        });
        m.hart.medeleg = (1L << Trap.LOAD_PAGE_FAULT) | (1L << Trap.STORE_PAGE_FAULT) | (1L << Trap.INSN_PAGE_FAULT);
        assertTrue(run());
        assertEquals(m.addressOf("strap"), m.hart.pc);
        assertEquals(Trap.LOAD_PAGE_FAULT, m.hart.scause);
        assertEquals(VA_4K + 0x123, m.hart.stval);
        assertEquals(0, m.hart.mcause);
    }

    @Test
    void sfenceVmaMakesPteChangesVisible() {
        tables(3);
        long pte = pt.map(VA_4K, PAGE_A, 0, RW | A | D);
        m.memory.writeLong(PAGE_A, 1);
        m.memory.writeLong(PAGE_B, 2);
        long newPte = ((PAGE_B >>> 12) << 10) | RW | A | D;
        program(Hart.PRIV_S, a -> {
            a.li(S0, VA_4K);
            a.ld(A0, S0, 0);                   // through PAGE_A
            a.li(T0, pte);
            a.li(T1, newPte);
            a.sd(T1, T0, 0);                   // remap to PAGE_B (PTE store through the gigapage)
            a.sfenceVma(0, 0);
            a.ld(A1, S0, 0);                   // through PAGE_B
        });
        assertNoFault();
        assertEquals(1, m.x(A0));
        assertEquals(2, m.x(A1));
    }

    @Test
    void mprvTranslatesMachineModeDataAccesses() {
        tables(3);
        pt.map(VA_4K, PAGE_A, 0, RW);
        m.memory.writeLong(PAGE_A, 0x5a5a);
        Asm a = new Asm(BASE);
        a.li(T0, pt.satp());
        a.csrw(Csr.SATP, T0);
        a.li(T0, 3L << 11);
        a.csrc(Csr.MSTATUS, T0);
        a.li(T0, Csr.MPRV | (1L << 11));       // MPRV with MPP = S
        a.csrs(Csr.MSTATUS, T0);
        a.li(S0, VA_4K);
        a.ld(A0, S0, 0);
        a.label("end").spin();
        m.asm = a;
        m.load(a).reset(BASE);
        m.runTo("end");
        assertEquals(Hart.PRIV_M, m.hart.priv, "fetches stay untranslated in M");
        assertEquals(0x5a5a, m.x(A0));
    }

    /**
     * A trap taken from M-mode while MPRV = 1 sets MPP = M, so the handler's data accesses are no longer
     * translated; entries the TLB filled under the old MPP must not be used for them.
     */
    @Test
    void trapInMachineModeWithMprvUsesTheNewMpp() {
        long va = PAGE_B;                      // a VA that is also a RAM address, mapped elsewhere
        pt = new PageTables(m.memory, 3, TABLES);
        for (long p = BASE; p < BASE + 0x4000; p += 0x1000) pt.map(p, p, 0, RWX);
        pt.map(va, PAGE_C, 0, RW);             // S view: PAGE_B -> PAGE_C
        m.memory.writeLong(PAGE_B, 0xbbbb);
        m.memory.writeLong(PAGE_C, 0xcccc);
        Asm a = new Asm(BASE);
        a.la(T0, "handler");
        a.csrw(Csr.MTVEC, T0);
        a.li(T0, pt.satp());
        a.csrw(Csr.SATP, T0);
        a.li(T0, 3L << 11);
        a.csrc(Csr.MSTATUS, T0);
        a.li(T0, Csr.MPRV | (1L << 11));       // MPRV, MPP = S
        a.csrs(Csr.MSTATUS, T0);
        a.li(S0, va);
        a.ld(A0, S0, 0);                       // translated: PAGE_C
        a.li(S1, 0x5000_0000L);
        a.ld(A1, S1, 0);                       // not mapped: page fault into M, MPP := M
        a.label("end").spin();
        a.label("handler");
        a.ld(A2, S0, 0);                       // MPRV with MPP = M: untranslated, PAGE_B
        a.label("hend").spin();
        m.asm = a;
        m.load(a).reset(BASE);
        m.runTo("hend");
        assertEquals(Trap.LOAD_PAGE_FAULT, m.hart.mcause);
        assertEquals(0xcccc, m.x(A0));
        assertEquals(0xbbbb, m.x(A2), "handler load must not use the S-mode translation");
    }

    @Test
    void satpWriteWithModeBareTurnsTranslationOff() {
        tables(3);
        pt.map(VA_4K, PAGE_A, 0, RW);
        program(Hart.PRIV_S, a -> {
            a.li(S0, VA_4K);
            a.ld(A0, S0, 0);
            a.csrw(Csr.SATP, ZERO);
            a.li(S0, PAGE_B);                  // physical now
            a.ld(A1, S0, 0);
        });
        m.memory.writeLong(PAGE_A, 3);
        m.memory.writeLong(PAGE_B, 4);
        assertNoFault();
        assertEquals(3, m.x(A0));
        assertEquals(4, m.x(A1));
    }

    @Test
    void dirtyBitSetOnFirstStoreAfterCachedRead() {
        tables(3);
        long pte = pt.map(VA_4K, PAGE_A, 0, RW);
        program(Hart.PRIV_S, a -> {
            a.li(S0, VA_4K);
            a.ld(A0, S0, 0);
            a.ld(A0, S0, 8);
            a.label("store").sd(A0, S0, 0);
        });
        m.runTo("store");
        assertEquals(A, m.memory.readLong(pte) & (A | D));
        assertNoFault();
        assertEquals(A | D, m.memory.readLong(pte) & (A | D));
    }

    @Test
    void fetchFromANonExecutablePageFaults() {
        tables(3);
        pt.map(VA_4K, PAGE_A, 0, RW);
        program(Hart.PRIV_S, a -> {
            a.li(S0, VA_4K + 0x40);
            a.jalr(RA, S0, 0);
        });
        assertFault(Trap.INSN_PAGE_FAULT, VA_4K + 0x40);
        assertEquals(VA_4K + 0x40, m.hart.mepc);
    }

    @Test
    void instructionStraddlingIntoAMissingPageFaults() {
        tables(3);
        pt.map(VA_4K, PAGE_A, 0, RWX);               // the next page is not mapped
        // at the end of the mapped page: c.nop, then a 32-bit addi whose upper half is on the next page
        m.memory.writeShort(PAGE_A + 0xffa, (short) 0x0001);
        m.memory.writeShort(PAGE_A + 0xffc, (short) 0x0001);
        m.memory.writeShort(PAGE_A + 0xffe, (short) 0x0513); // low half of "addi a0, zero, ..."
        program(Hart.PRIV_S, a -> {
            a.li(S0, VA_4K + 0xffa);
            a.jalr(RA, S0, 0);
        });
        assertTrue(run());
        assertEquals(Trap.INSN_PAGE_FAULT, m.hart.mcause);
        assertEquals(VA_4K + 0xffe, m.hart.mepc, "epc is the straddling instruction");
        long tval = m.hart.mtval;
        assertTrue(tval == VA_4K + 0xffe || tval == VA_4K + 0x1000, "mtval 0x" + Long.toHexString(tval));
    }

    @Test
    void pagesSharingATlbSlotStayApart() {
        tables(3);
        long va2 = VA_4K + ((long) Hart.TLB_SIZE << 12);  // same direct-mapped slot, different page
        pt.map(VA_4K, PAGE_A, 0, RW);
        pt.map(va2, PAGE_B, 0, RW);
        m.memory.writeLong(PAGE_A, 0xaa);
        m.memory.writeLong(PAGE_B, 0xbb);
        program(Hart.PRIV_S, a -> {
            a.li(S0, VA_4K);
            a.li(S1, va2);
            a.ld(A0, S0, 0);
            a.ld(A1, S1, 0);
            a.ld(A2, S0, 0);
            a.li(T0, 0xcc);
            a.sd(T0, S1, 8);
            a.sd(T0, S0, 16);
            a.ld(A3, S1, 0);
        });
        assertNoFault();
        assertEquals(0xaa, m.x(A0));
        assertEquals(0xbb, m.x(A1));
        assertEquals(0xaa, m.x(A2));
        assertEquals(0xbb, m.x(A3));
        assertEquals(0xcc, m.memory.readLong(PAGE_B + 8));
        assertEquals(0xcc, m.memory.readLong(PAGE_A + 16));
    }

    @Test
    void translationsCachedInSupervisorModeDoNotLeakToUserMode() {
        pt = new PageTables(m.memory, 3, TABLES);
        for (long p = BASE; p < BASE + 0x4000; p += 0x1000) pt.map(p, p, 0, RWX | U); // user code pages
        pt.map(VA_4K, PAGE_A, 0, RW);                // supervisor data
        m.memory.writeLong(PAGE_A, 7);
        // S-mode cannot fetch U pages, so the S part runs in M with MPRV = 1, MPP = S (data as S)
        Asm a = new Asm(BASE);
        a.li(T0, pt.satp());
        a.csrw(Csr.SATP, T0);
        a.li(T0, 3L << 11);
        a.csrc(Csr.MSTATUS, T0);
        a.li(T0, Csr.MPRV | (1L << 11));
        a.csrs(Csr.MSTATUS, T0);
        a.li(S0, VA_4K);
        a.ld(A0, S0, 0);                             // as S: allowed, cached
        a.li(T0, Csr.MPRV | (3L << 11));
        a.csrc(Csr.MSTATUS, T0);                     // MPP = U, MPRV off
        a.la(T0, "u");
        a.csrw(Csr.MEPC, T0);
        a.mret();
        a.label("u").ld(A1, S0, 0);                  // as U: must fault
        a.label("end").spin();
        a.label("mtrap").spin();
        a.label("strap").spin();
        m.asm = a;
        m.load(a).reset(BASE);
        m.mtvec("mtrap");
        assertFault(Trap.LOAD_PAGE_FAULT, VA_4K);
        assertEquals(7, m.x(A0));
        assertEquals(Hart.PRIV_U, (m.hart.mstatus >>> 11) & 3);
    }
}
