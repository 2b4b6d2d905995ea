package dev.visor.machine;

/**
 * The machine's time base: a monotonic tick counter at {@link #frequency()} Hz, starting at 0 when the
 * machine is built. Pausing the VM stops it, so that a paused guest does not see time jump.
 */
public final class Clock {
    private final long frequency;
    private final long originNanos;
    /** Nanoseconds spent paused, subtracted from the host clock. */
    private volatile long pausedNanos;
    private volatile long pausedAt = -1;

    public Clock(long frequency) {
        this.frequency = frequency;
        this.originNanos = System.nanoTime();
    }

    public long frequency() { return frequency; }

    /** Current tick count. */
    public long ticks() {
        long at = pausedAt;
        long now = at >= 0 ? at : System.nanoTime();
        long ns = now - originNanos - pausedNanos;
        return frequency == 10_000_000L ? ns / 100 : Math.multiplyHigh(ns, frequency) == 0 ? ns * frequency / 1_000_000_000L : (long) (ns * (frequency / 1e9));
    }

    /** Host nanoseconds from now until tick {@code t} (0 if already passed). */
    public long nanosUntil(long t) {
        long d = t - ticks();
        if (d <= 0) return 0;
        return frequency == 10_000_000L ? (d > Long.MAX_VALUE / 100 ? Long.MAX_VALUE : d * 100) : (long) (d * (1e9 / frequency));
    }

    public synchronized void pause() { if (pausedAt < 0) pausedAt = System.nanoTime(); }

    public synchronized void resume() {
        if (pausedAt >= 0) { pausedNanos += System.nanoTime() - pausedAt; pausedAt = -1; }
    }
}
