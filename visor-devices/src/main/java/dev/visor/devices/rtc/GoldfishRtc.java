package dev.visor.devices.rtc;

import dev.visor.machine.state.StateException;
import dev.visor.machine.state.StateReader;
import dev.visor.machine.state.StateWriter;
import dev.visor.machine.state.Stateful;
import dev.visor.machine.IrqLine;
import dev.visor.machine.MmioDevice;

import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The Goldfish real-time clock ({@code google,goldfish-rtc}) as on QEMU's {@code virt} board.
 * 32-bit registers:
 * <ul>
 *   <li>{@code 0x00 TIME_LOW}: low half of the time; reading it latches the high half for TIME_HIGH</li>
 *   <li>{@code 0x04 TIME_HIGH}: the high half latched by the last TIME_LOW read</li>
 *   <li>{@code 0x08 ALARM_LOW}: writing it arms the alarm at ALARM_HIGH:ALARM_LOW (fires at once if due)</li>
 *   <li>{@code 0x0C ALARM_HIGH}: high half of the alarm time (write it first)</li>
 *   <li>{@code 0x10 IRQ_ENABLED}: bit 0 lets a fired alarm raise the IRQ line</li>
 *   <li>{@code 0x14 CLEAR_ALARM}: write disarms the alarm</li>
 *   <li>{@code 0x18 ALARM_STATUS}: 1 while an alarm is armed and has not fired</li>
 *   <li>{@code 0x1C CLEAR_INTERRUPT}: write acknowledges a fired alarm (lowers the line)</li>
 * </ul>
 * Time is in nanoseconds since the Unix epoch: the host wall clock plus an offset. Writing TIME_LOW or
 * TIME_HIGH replaces that half of the current time by moving the offset (as QEMU does). A 64-bit read of
 * TIME_LOW returns the whole time. Other offsets, sizes or alignments read 0 and ignore writes.
 *
 * <p>Armed alarms are timed on one shared daemon thread, created the first time any RTC arms one.
 * When it fires it checks the wall clock again (it may have been stepped) and re-arms if early.
 *
 * <p>Thread-safe: one lock guards the state; the IRQ line is driven while holding it (on level
 * changes only) so levels cannot be reordered.
 */
public final class GoldfishRtc implements MmioDevice, Stateful {
    public static final int TIME_LOW = 0x00, TIME_HIGH = 0x04, ALARM_LOW = 0x08, ALARM_HIGH = 0x0C,
            IRQ_ENABLED = 0x10, CLEAR_ALARM = 0x14, ALARM_STATUS = 0x18, CLEAR_INTERRUPT = 0x1C;

    /** Holder idiom: the timer thread exists only once some RTC arms an alarm. */
    private static final class Timer {
        static final ScheduledThreadPoolExecutor EXEC;
        static {
            EXEC = new ScheduledThreadPoolExecutor(1, r -> {
                Thread t = new Thread(r, "goldfish-rtc-alarm");
                t.setDaemon(true);
                return t;
            });
            EXEC.setRemoveOnCancelPolicy(true);
        }
    }

    private final Object lock = new Object();
    private final IrqLine irq;
    private final LongSupplier wallNanos;

    /** Guest time minus host wall time, in ns. */
    private long offset;
    private long latchedHigh;
    private long alarm;
    private boolean alarmArmed;
    private boolean irqPending;
    private boolean irqEnabled;
    private boolean irqLevel;
    private ScheduledFuture<?> timer;
    /** Bumped whenever the alarm changes, so that a stale timer task does nothing. */
    private long generation;

    /** An RTC on the host's wall clock. */
    public GoldfishRtc(IrqLine irq) {
        this(irq, GoldfishRtc::hostNanos);
    }

    /**
     * @param irq the alarm interrupt line
     * @param wallClockNanos the host wall clock in ns since the epoch (replaceable for tests)
     */
    public GoldfishRtc(IrqLine irq, LongSupplier wallClockNanos) {
        this.irq = Objects.requireNonNull(irq, "irq");
        this.wallNanos = Objects.requireNonNull(wallClockNanos, "wallClockNanos");
    }

    private static long hostNanos() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }

    /** The guest-visible time, ns since the epoch. */
    public long nanos() {
        synchronized (lock) {
            return now();
        }
    }

    /** Disarms any alarm (machine reset or shutdown); the time offset stays, as a battery-backed clock's would. */
    public void close() {
        synchronized (lock) {
            disarm();
            irqPending = false;
            irqEnabled = false;
            updateIrq();
        }
    }

    private long now() {
        return wallNanos.getAsLong() + offset;
    }

    @Override
    public long read(long off, int size) {
        synchronized (lock) {
            if (off == TIME_LOW && size == 8) return now();
            if (size != 4) return 0;
            switch ((int) off) {
                case TIME_LOW -> {
                    long t = now();
                    latchedHigh = t >>> 32;
                    return t & 0xFFFFFFFFL;
                }
                case TIME_HIGH -> { return latchedHigh; }
                case ALARM_LOW -> { return alarm & 0xFFFFFFFFL; }
                case ALARM_HIGH -> { return alarm >>> 32; }
                case IRQ_ENABLED -> { return irqEnabled ? 1 : 0; }
                case ALARM_STATUS -> { return alarmArmed ? 1 : 0; }
                default -> { return 0; }
            }
        }
    }

    @Override
    public void write(long off, int size, long value) {
        if (size != 4) return;
        long v = value & 0xFFFFFFFFL;
        synchronized (lock) {
            switch ((int) off) {
                case TIME_LOW -> {
                    long t = now();
                    offset += ((t & 0xFFFFFFFF00000000L) | v) - t;
                }
                case TIME_HIGH -> {
                    long t = now();
                    offset += ((t & 0xFFFFFFFFL) | (v << 32)) - t;
                }
                case ALARM_LOW -> {
                    alarm = (alarm & 0xFFFFFFFF00000000L) | v;
                    arm();
                }
                case ALARM_HIGH -> alarm = (alarm & 0xFFFFFFFFL) | (v << 32);
                case IRQ_ENABLED -> {
                    irqEnabled = (v & 1) != 0;
                    updateIrq();
                }
                case CLEAR_ALARM -> disarm();
                case CLEAR_INTERRUPT -> {
                    irqPending = false;
                    updateIrq();
                }
                default -> { }
            }
        }
    }

    /** Arms the alarm at {@link #alarm}: fires now if due, else schedules a check. Caller holds the lock. */
    private void arm() {
        disarm();
        long delay = alarm - now();
        if (delay <= 0) {
            fire();
            return;
        }
        alarmArmed = true;
        long gen = generation;
        timer = Timer.EXEC.schedule(() -> expired(gen), delay, TimeUnit.NANOSECONDS);
    }

    private void expired(long gen) {
        synchronized (lock) {
            if (gen != generation || !alarmArmed) return;
            long delay = alarm - now();
            if (delay > 0) {
                // Woken early (wall clock stepped back, or timer slack): check again later.
                timer = Timer.EXEC.schedule(() -> expired(gen), delay, TimeUnit.NANOSECONDS);
                return;
            }
            alarmArmed = false;
            timer = null;
            fire();
        }
    }

    private void disarm() {
        generation++;
        alarmArmed = false;
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private void fire() {
        irqPending = true;
        updateIrq();
    }

    private void updateIrq() {
        boolean lvl = irqPending && irqEnabled;
        if (lvl != irqLevel) {
            irqLevel = lvl;
            irq.set(lvl);
        }
    }

    // ---- state ----
    // The guest's offset from the host's wall clock is kept, not the time itself: a VM restored
    // later reads the real time plus whatever the guest set, as QEMU's default rtc base does.

    @Override public String stateId() { return "rtc"; }

    @Override
    public void saveState(StateWriter out) {
        synchronized (lock) {
            out.putLong("offset", offset).putLong("latchedHigh", latchedHigh).putLong("alarm", alarm)
                    .putBool("alarmArmed", alarmArmed).putBool("irqPending", irqPending).putBool("irqEnabled", irqEnabled);
        }
    }

    /** Sets the registers, re-arms a pending alarm (firing it at once if its time has passed) and drives the IRQ line. */
    @Override
    public void restoreState(StateReader in) throws StateException {
        synchronized (lock) {
            disarm();
            offset = in.getLong("offset", 0);
            latchedHigh = in.getLong("latchedHigh", 0) & 0xFFFFFFFFL;
            alarm = in.getLong("alarm", 0);
            irqPending = in.getBool("irqPending", false);
            irqEnabled = in.getBool("irqEnabled", false);
            irqLevel = irqPending && irqEnabled;
            irq.set(irqLevel);
            if (in.getBool("alarmArmed", false)) arm();
        }
    }
}
