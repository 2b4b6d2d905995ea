package dev.visor.machine;

import dev.visor.machine.state.StateException;
import dev.visor.machine.state.StateReader;
import dev.visor.machine.state.StateWriter;
import dev.visor.machine.state.Stateful;

/**
 * The machine's time base: a monotonic tick counter at {@link #frequency()} Hz, starting at 0 when the
 * machine is built. Pausing the VM stops it, so that a paused guest does not see time jump.
 */
public final class Clock implements Stateful {
    private final long frequency;
    /** Host nanoTime at tick 0; moved by {@link #restoreState} so that a restored guest's time continues. */
    private volatile long originNanos;
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

    public boolean isPaused() { return pausedAt >= 0; }

    // ---- state: the tick count, so that mtime neither jumps nor goes back across a restore ----

    @Override public String stateId() { return "clock"; }

    @Override
    public void saveState(StateWriter out) {
        out.putLong("frequency", frequency);
        out.putLong("ticks", ticks());
    }

    /** Sets the clock to the saved tick count; it stays paused if it is paused (as it should be). */
    @Override
    public synchronized void restoreState(StateReader in) throws StateException {
        long f = in.getLong("frequency", frequency);
        if (f != frequency) throw in.invalid("timebase " + f + " Hz differs from this board's " + frequency + " Hz");
        long t = in.getLong("ticks", 0);
        if (t < 0 || t > Long.MAX_VALUE / 1000) throw in.invalid("tick count " + t + " is out of range");
        long ns = frequency == 10_000_000L ? t * 100 : (long) (t * (1e9 / frequency));
        long now = System.nanoTime();
        pausedNanos = 0;
        originNanos = now - ns;
        if (pausedAt >= 0) pausedAt = now;
    }
}
