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

    /** Guest-physical address of the HTIF tohost word, or -1 when there is none. */
    volatile long htifToHost = -1;

    // pause protocol: harts check pauseRequested between blocks and wait here
    private final Object pauseLock = new Object();
    private volatile boolean pauseRequested;
    private int pausedCount;

    public HartGroup(int count, GuestMemory memory, MmioBus bus, Clock clock, Listener listener) {
        if (count < 1 || count > 64) throw new IllegalArgumentException("harts must be 1..64: " + count);
        this.listener = listener;
        harts = new Hart[count];
        threads = new Thread[count];
        for (int i = 0; i < count; i++) harts[i] = new Hart(i, memory, bus, clock, this);
    }

    public int count() { return harts.length; }

    public Hart hart(int i) { return harts[i]; }

    /** The interrupt inputs of each hart, for the interrupt controllers. */
    public InterruptPins[] pins() {
        return harts.clone();
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

    /** Called by each hart between blocks: waits while a pause is requested. */
    void pausePoint(Hart h) {
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
