package dev.visor.engine.riscv;

import dev.visor.machine.Clock;
import dev.visor.machine.GuestMemory;
import dev.visor.machine.MmioBus;
import dev.visor.machine.MmioDevice;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A minimal machine for engine tests: guest RAM at 0x80000000, an MMIO bus with one scratch device,
 * a 10 MHz clock and a {@link HartGroup}. Programs are written into RAM and hart 0 is stepped on the
 * test thread with {@link Hart#execute}, or the group is started on its own threads.
 */
final class TestMachine implements HartGroup.Listener {
    static final long BASE = 0x8000_0000L;
    /** Where test programs put data, away from code and page tables. */
    static final long DATA = BASE + 0x10_000;
    /** A 4 KiB MMIO scratch window (an 8-byte register array, byte addressed). */
    static final long MMIO = 0x1000_0000L;

    final GuestMemory memory;
    final MmioBus bus = new MmioBus();
    final Clock clock = new Clock(10_000_000);
    final HartGroup group;
    final Hart hart;
    final byte[] mmioBytes = new byte[4096];
    final List<String> mmioLog = new CopyOnWriteArrayList<>();

    /** The program built by {@link #program}, for its labels. */
    Asm asm;

    final List<Integer> exits = new CopyOnWriteArrayList<>();
    final CountDownLatch exited = new CountDownLatch(1);
    volatile Throwable failure;
    final StringBuffer console = new StringBuffer();

    TestMachine() { this(1, 4L << 20); }

    TestMachine(int harts, long ramSize) {
        memory = new GuestMemory(BASE, ramSize);
        bus.register("scratch", MMIO, 4096, new MmioDevice() {
            @Override public synchronized long read(long offset, int size) {
                long v = 0;
                for (int k = 0; k < size; k++) v |= (mmioBytes[(int) offset + k] & 0xffL) << (8 * k);
                mmioLog.add("r" + size + "@" + offset);
                return v;
            }
            @Override public synchronized void write(long offset, int size, long value) {
                for (int k = 0; k < size; k++) mmioBytes[(int) offset + k] = (byte) (value >>> (8 * k));
                mmioLog.add("w" + size + "@" + offset);
            }
        });
        group = new HartGroup(harts, memory, bus, clock, this);
        hart = group.hart(0);
    }

    @Override public void htifExit(int code) {
        exits.add(code);
        exited.countDown();
    }

    @Override public void htifPutchar(int b) { console.append((char) b); }

    @Override public void engineFailure(int hart, Throwable error) {
        failure = error;
        exited.countDown();
    }

    /** Copies the program into RAM at its origin. */
    TestMachine load(Asm a) {
        byte[] b = a.bytes();
        memory.write(a.origin, b, 0, b.length);
        return this;
    }

    /** Resets every hart to {@code pc} (a0 = hart id). */
    TestMachine reset(long pc) {
        for (int i = 0; i < group.count(); i++) group.hart(i).reset(pc, i, 0, 0);
        return this;
    }

    /** Assembles a program at BASE with {@code body}, loads it and resets the harts to it. */
    static TestMachine program(Consumer<Asm> body) {
        TestMachine m = new TestMachine();
        Asm a = new Asm(BASE);
        body.accept(a);
        m.asm = a;
        m.load(a).reset(BASE);
        return m;
    }

    /**
     * Steps hart 0 one instruction (or one trap entry) at a time until its pc is {@code stop};
     * fails after {@code max} steps. Returns the number of steps.
     */
    int runUntil(long stop, int max) {
        for (int n = 0; n < max; n++) {
            if (hart.pc == stop) return n;
            hart.execute(1);
        }
        if (hart.pc == stop) return max;
        fail(String.format("pc did not reach 0x%x in %d steps; pc=0x%x priv=%d mcause=0x%x mepc=0x%x mtval=0x%x scause=0x%x",
                stop, max, hart.pc, hart.priv, hart.mcause, hart.mepc, hart.mtval, hart.scause));
        return -1;
    }

    int runUntil(long stop) { return runUntil(stop, 100_000); }

    /** Runs the hart until pc reaches the address of {@code label} in {@code a}. */
    int runTo(Asm a, String label) { return runUntil(a.addressOf(label)); }

    /** Puts hart 0 at privilege {@code priv} directly (as if a trap return had). */
    TestMachine privilege(int priv) {
        hart.priv = priv;
        hart.updateContext();
        return this;
    }

    /** Sets mtvec to {@code label} of the program. */
    TestMachine mtvec(String label) {
        hart.mtvec = asm.addressOf(label);
        return this;
    }

    /** Runs the hart until pc reaches {@code label} of the program built by {@link #program}. */
    int runTo(String label) { return runUntil(asm.addressOf(label)); }

    long addressOf(String label) { return asm.addressOf(label); }

    long x(int r) { return hart.x[r]; }

    /** Reads a CSR as M-mode software would (bypassing the privilege check of the instruction). */
    long csr(int csr) { return Privileged.read(hart, csr, 0); }

    /** Starts all harts on their threads and waits for an HTIF exit; returns the exit code. */
    int startAndAwaitExit(long timeoutMillis) throws InterruptedException {
        group.start();
        try {
            boolean done = exited.await(timeoutMillis, TimeUnit.MILLISECONDS);
            if (failure != null) throw new AssertionError("engine failure", failure);
            assertTrue(done, "no HTIF exit within " + timeoutMillis + " ms; hart 0 pc=0x" + Long.toHexString(hart.pc));
            return exits.getFirst();
        } finally {
            group.stop();
        }
    }

    void assertPc(long expected) {
        assertEquals(expected, hart.pc, () -> String.format("pc 0x%x", hart.pc));
    }
}
