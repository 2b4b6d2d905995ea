package dev.visor.engine.riscv;

import dev.visor.machine.Clock;
import dev.visor.machine.GuestMemory;
import dev.visor.machine.InterruptPins;
import dev.visor.machine.MmioBus;

import java.util.function.IntConsumer;

/**
 * The RISC-V engine's vCPUs: one {@link Hart} per guest hart, each run by its own platform thread
 * ("a vCPU is a thread"). Owns starting, pausing and stopping them, and the HTIF {@code tohost}
 * mailbox that bare-metal test programs use to report their result.
 */
public final class HartGroup {
    /** How the group reports that the guest is done or the engine failed. */
    public interface Listener {
        /** A bare-metal program wrote its exit code to tohost. */
        void htifExit(int code);

        /** A byte written through HTIF's console device. */
        default void htifPutchar(int b) { }

        /** An internal engine error on a hart thread (a bug in Visor, never a guest action). */
        void engineFailure(int hart, Throwable error);
    }

    private final Hart[] harts;
    private final Thread[] threads;
    private final Listener listener;
    private final GuestMemory memory;

    /** Guest-physical address of the HTIF tohost word, or -1 when there is none. */
    volatile long htifToHost = -1;

    // pause protocol: harts check pauseRequested between blocks and wait here
    private final Object pauseLock = new Object();
    private volatile boolean pauseRequested;
    private int pausedCount;

    /** Makes a bitmap read and the TLB flush that must follow it one step (see {@link #fetchAndClearDirty}). */
    private final Object dirtyLock = new Object();

    // auto-converge: each hart sleeps throttlePercent of every slice in pausePoint
    /** Share of time (0..99 %) each hart is held back; 0 = off. */
    private volatile int throttlePercent;
    /** Per hart: System.nanoTime() at which it next sleeps. Written only by that hart. */
    private final long[] throttleNext;
    /** Running time between two throttle sleeps. */
    private static final long THROTTLE_SLICE_NANOS = 10_000_000L;

    public HartGroup(int count, GuestMemory memory, MmioBus bus, Clock clock, Listener listener) {
        if (count < 1 || count > 64) throw new IllegalArgumentException("harts must be 1..64: " + count);
        this.listener = listener;
        this.memory = memory;
        throttleNext = new long[count];
        harts = new Hart[count];
        threads = new Thread[count];
        for (int i = 0; i < count; i++) harts[i] = new Hart(i, memory, bus, clock, this);
    }

    public int count() { return harts.length; }

    /**
     * Runs the engine's static initializers now, on the calling thread. The costly one is the table of
     * compressed-instruction expansions (65,536 entries, built in HotSpot's interpreter: about 50 ms
     * on a cold JVM), which the first vCPU would otherwise build when it meets its first compressed
     * instruction: for a VM arriving by migration that was a pause after the resume, with the guest
     * making no progress at all. Meant for a background thread while a process starts.
     */
    public static void initializeClasses() {
        java.lang.invoke.MethodHandles.Lookup lookup = java.lang.invoke.MethodHandles.lookup();
        for (Class<?> c : new Class<?>[] {Rvc.class, Hart.class, Mmu.class, Privileged.class, Atomics.class, FloatUnit.class,
                BlockTranslator.class, BlockCache.class, TranslationWorker.class}) {
            try {
                lookup.ensureInitialized(c);
            } catch (IllegalAccessException e) {
                throw new IllegalStateException(e); // same package: cannot happen
            }
        }
    }

    public Hart hart(int i) { return harts[i]; }

    /** The interrupt inputs of each hart, for the interrupt controllers. */
    public InterruptPins[] pins() {
        return harts.clone();
    }

    /**
     * Instructions retired by all harts (their minstret, summed), for monitoring. Read racily from
     * any thread: each hart adds to its count without synchronization, so the sum may lag a block.
     */
    public long instructionsRetired() {
        long n = 0;
        for (Hart h : harts) n += h.instret;
        return n;
    }

    /**
     * CPU time the hart threads have used so far, in nanoseconds: what the vCPUs cost the host.
     * 0 before {@link #start}, and on a JVM that cannot measure thread CPU time; a thread that has
     * ended no longer counts (the JVM forgets its time).
     */
    public long cpuTimeNanos() {
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        long sum = 0;
        try {
            for (Thread t : threads) {
                if (t == null) continue;
                long ns = mx.getThreadCpuTime(t.threadId());
                if (ns > 0) sum += ns;
            }
        } catch (UnsupportedOperationException e) {
            return 0; // no thread CPU time on this JVM
        }
        return sum;
    }

    /** Watches guest-physical address {@code address} as HTIF's tohost (bare-metal tests). */
    public void setHtifToHost(long address) { htifToHost = address; }

    /** Starts one thread per hart. Each hart must have been {@link Hart#reset reset} to its entry point. */
    public void start() {
        for (int i = 0; i < harts.length; i++) {
            Hart h = harts[i];
            Thread t = new Thread(() -> runHart(h), "vcpu-" + i);
            t.setDaemon(true);
            threads[i] = t;
            h.thread = t;
            t.start();
        }
        if (BlockProfile.ON) {
            Thread.ofPlatform().daemon().name("block-profile").start(() -> {
                for (int n = 1; ; n++) {
                    try { Thread.sleep(5000); } catch (InterruptedException e) { return; }
                    BlockProfile.write(harts, n);
                }
            });
        }
        if (Boolean.getBoolean("visor.stats")) {
            // tuning aid: where each hart is, every two seconds
            Thread.ofPlatform().daemon().name("hart-sampler").start(() -> {
                while (true) {
                    try { Thread.sleep(2000); } catch (InterruptedException e) { return; }
                    for (Hart h : harts) System.err.printf("hart %d pc=%x priv=%d ra=%x mip=%x mie=%x sstatus=%x %s%n", h.id, h.pc, h.priv, h.x[1], h.mip(), h.mie, h.mstatus, h.statistics());
                }
            });
        }
    }

    private void runHart(Hart h) {
        try {
            h.run();
        } catch (Throwable e) {
            listener.engineFailure(h.id, e);
        }
    }

    /** Stops all harts and waits for their threads to end. */
    public void stop() {
        if (Boolean.getBoolean("visor.stats")) for (Hart h : harts) System.err.println(h.statistics());
        if (BlockProfile.ON) BlockProfile.write(harts, 0);
        for (Hart h : harts) h.requestStop();
        synchronized (pauseLock) {
            pauseRequested = false;
            pauseLock.notifyAll();
        }
        for (Thread t : threads) {
            if (t == null || t == Thread.currentThread()) continue;
            try {
                t.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Pauses all harts between instructions and returns once every running hart has stopped executing. */
    public void pause() {
        synchronized (pauseLock) {
            pauseRequested = true;
            for (Hart h : harts) h.kick();
            for (Hart h : harts) if (h.thread != null) java.util.concurrent.locks.LockSupport.unpark(h.thread);
            int running = 0;
            for (Thread t : threads) if (t != null && t.isAlive()) running++;
            while (pausedCount < running) {
                try {
                    pauseLock.wait(10);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    public void resume() {
        synchronized (pauseLock) {
            pauseRequested = false;
            pauseLock.notifyAll();
        }
    }

    boolean pauseRequested() { return pauseRequested; }

    /** Called by each hart between blocks: waits while a pause is requested (and sleeps while throttled). */
    void pausePoint(Hart h) {
        if (throttlePercent != 0) throttle(h);
        if (!pauseRequested) return;
        synchronized (pauseLock) {
            pausedCount++;
            pauseLock.notifyAll();
            while (pauseRequested && !h.stopRequested) {
                try {
                    pauseLock.wait();
                } catch (InterruptedException e) {
                    break;
                }
            }
            pausedCount--;
        }
    }

    // ---------------------------------------------------------------- dirty logging and auto-converge
    /*
     * Implementation overview. A hart marks a page dirty when it fills its write TLB with it (and on
     * every slow-path store); later stores through the TLB mark nothing. So the bitmap only stays
     * true if no write TLB holds a page whose bit was cleared: starting the log and each read of the
     * bitmap run with the harts paused, clear the bits and ask every hart to drop its TLBs before it
     * runs again. A store after the resume refills its TLB entry and so marks its page again. Device
     * writes go through GuestMemory, which marks pages itself.
     */

    /** Turns guest RAM's dirty log on, with every hart's write TLB emptied so every later store is seen. Any thread. */
    public void startDirtyLog() {
        synchronized (dirtyLock) {
            boolean wasPaused = pauseRequested;
            if (!wasPaused) pause();
            memory.setDirtyLogging(true);
            long[] discard = new long[memory.dirtyBitmapWords()];
            memory.fetchAndClearDirty(discard);
            flushAllTlbs();
            if (!wasPaused) resume();
        }
    }

    public void stopDirtyLog() {
        memory.setDirtyLogging(false);
    }

    /**
     * Copies the pages written since the last call (one bit per page) into {@code out} and clears
     * them, pausing the harts for the moment it takes (unless they are paused already) so that no
     * store slips between the read and the TLB flush. Any thread; the pause is microseconds.
     */
    public void fetchAndClearDirty(long[] out) {
        synchronized (dirtyLock) {
            boolean wasPaused = pauseRequested;
            if (!wasPaused) pause();
            memory.fetchAndClearDirty(out);
            flushAllTlbs();
            if (!wasPaused) resume();
        }
    }

    /**
     * Holds every hart back for {@code percent} (0..99) of its time, in slices of 10 ms, so a guest
     * that dirties RAM faster than a migration link carries it slows down (QEMU's auto-converge).
     * 0 turns it off. Guest time runs on meanwhile, as on a loaded host.
     */
    public void setThrottle(int percent) {
        if (percent < 0 || percent > 99) throw new IllegalArgumentException("throttle must be 0..99 %: " + percent);
        throttlePercent = percent;
    }

    public int throttle() { return throttlePercent; }

    private void throttle(Hart h) {
        int p = throttlePercent;
        long now = System.nanoTime();
        if (p == 0 || now < throttleNext[h.id]) return;
        long sleep = THROTTLE_SLICE_NANOS * p / (100 - p);
        long until = now + sleep;
        // parked, so a pause request (which unparks) is not held up; sleeps again if woken early otherwise
        while (!pauseRequested && !h.stopRequested && throttlePercent != 0 && (now = System.nanoTime()) < until) {
            java.util.concurrent.locks.LockSupport.parkNanos(this, until - now);
        }
        throttleNext[h.id] = System.nanoTime() + THROTTLE_SLICE_NANOS;
    }

    /** Asks every hart to drop its TLBs before its next block (e.g. after dirty logging starts). */
    public void flushAllTlbs() {
        for (Hart h : harts) {
            h.tlbFlushRequested = true;
            h.kick();
        }
    }

    /** A store reached tohost: spike's convention, bit 0 set = exit with code value >> 1; device 1 cmd 1 = putchar. */
    void htifWrite(Hart h, long value) {
        if (value == 0) return;
        if ((value & 1) != 0 && (value >>> 56) == 0) {
            listener.htifExit((int) (value >>> 1));
        } else if ((value >>> 56) == 1 && ((value >>> 48) & 0xff) == 1) {
            listener.htifPutchar((int) value & 0xff);
        }
        h.memory.writeLong(htifToHost, 0); // acknowledge, as spike does
    }
}
