package dev.visor.devices.riscv;

import dev.visor.machine.state.StateException;
import dev.visor.machine.state.StateReader;
import dev.visor.machine.state.StateWriter;
import dev.visor.machine.state.Stateful;
import dev.visor.machine.Clock;
import dev.visor.machine.InterruptPins;
import dev.visor.machine.MmioDevice;

import java.util.Arrays;
import java.util.Objects;

/**
 * The SiFive core-local interruptor (ACLINT MSWI + MTIMER layout) as on QEMU's {@code virt} board.
 *
 * <ul>
 *   <li>{@code 0x0000 + 4*hart}: {@code msip}, bit 0 drives the hart's machine software interrupt
 *       ({@code mip} bit 3); other bits read 0.</li>
 *   <li>{@code 0x4000 + 8*hart}: {@code mtimecmp}, 64-bit, also accessible as two 32-bit halves. Every
 *       write passes the new value to {@link InterruptPins#setTimerCompare}; reads return what was
 *       written. Reset value: all ones (never fires).</li>
 *   <li>{@code 0xBFF8}: {@code mtime}, read from {@link Clock#ticks()} (64-bit, or 32-bit halves at
 *       0xBFF8/0xBFFC). Writes are ignored: the clock is shared by all harts and by the engines' own
 *       timer checks, so the guest cannot move it (OpenSBI and Linux never write it).</li>
 * </ul>
 * Other offsets, and accesses of other sizes or alignments, read 0 and ignore writes.
 *
 * <p>{@code mtimecmp} is unsigned while ticks are a signed {@code long}: values of 2^63 and above
 * (notably the all-ones "disarmed" value OpenSBI writes) are passed to the pins as
 * {@link Long#MAX_VALUE}, which the clock never reaches, so a signed comparison does not fire at once.
 *
 * <p>Thread-safe: one lock guards the registers, and pins are driven while holding it so that two
 * writes cannot reach a hart out of order. {@link InterruptPins} must not call back into the CLINT.
 */
public final class Clint implements MmioDevice, Stateful {
    public static final long MSIP_BASE = 0x0;
    public static final long MTIMECMP_BASE = 0x4000;
    public static final long MTIME = 0xBFF8;
    /** Size of the register window on the board. */
    public static final long SIZE = 0x10000;

    private static final int MSIP_BIT = 3;

    private final Object lock = new Object();
    private final Clock clock;
    private final InterruptPins[] harts;
    private final boolean[] msip;
    private final long[] mtimecmp;

    /**
     * @param clock the machine's time base (mtime)
     * @param harts the harts' interrupt pins, in hart-id order (at most 4095)
     */
    public Clint(Clock clock, InterruptPins[] harts) {
        if (harts.length > (MTIME - MTIMECMP_BASE) / 8) throw new IllegalArgumentException("too many harts: " + harts.length);
        this.clock = Objects.requireNonNull(clock, "clock");
        this.harts = harts.clone();
        for (InterruptPins p : this.harts) Objects.requireNonNull(p, "hart pins");
        this.msip = new boolean[harts.length];
        this.mtimecmp = new long[harts.length];
        Arrays.fill(mtimecmp, -1L);
    }

    /** Back to power-on state: software interrupts cleared, every mtimecmp all ones. */
    public void reset() {
        synchronized (lock) {
            for (int h = 0; h < harts.length; h++) {
                setMsip(h, false);
                setCompare(h, -1L);
            }
        }
    }

    @Override
    public long read(long offset, int size) {
        if (offset >= MTIME && offset < MTIME + 8) {
            return select(clock.ticks(), offset - MTIME, size);
        }
        synchronized (lock) {
            if (offset >= MSIP_BASE && offset < MSIP_BASE + 4L * harts.length) {
                if (size != 4 || (offset & 3) != 0) return 0;
                return msip[(int) ((offset - MSIP_BASE) >>> 2)] ? 1 : 0;
            }
            if (offset >= MTIMECMP_BASE && offset < MTIMECMP_BASE + 8L * harts.length) {
                int h = (int) ((offset - MTIMECMP_BASE) >>> 3);
                return select(mtimecmp[h], (offset - MTIMECMP_BASE) & 7, size);
            }
            return 0;
        }
    }

    @Override
    public void write(long offset, int size, long value) {
        synchronized (lock) {
            if (offset >= MSIP_BASE && offset < MSIP_BASE + 4L * harts.length) {
                if (size == 4 && (offset & 3) == 0) setMsip((int) ((offset - MSIP_BASE) >>> 2), (value & 1) != 0);
            } else if (offset >= MTIMECMP_BASE && offset < MTIMECMP_BASE + 8L * harts.length) {
                int h = (int) ((offset - MTIMECMP_BASE) >>> 3);
                long within = (offset - MTIMECMP_BASE) & 7;
                long old = mtimecmp[h];
                if (size == 8 && within == 0) setCompare(h, value);
                else if (size == 4 && within == 0) setCompare(h, (old & 0xFFFFFFFF00000000L) | (value & 0xFFFFFFFFL));
                else if (size == 4 && within == 4) setCompare(h, (old & 0xFFFFFFFFL) | (value << 32));
            }
            // mtime writes and everything else: ignored (see class comment).
        }
    }

    /** The 64-bit value, or the 32-bit half at {@code within} 0 or 4; 0 for other shapes. */
    private static long select(long v, long within, int size) {
        if (size == 8 && within == 0) return v;
        if (size == 4 && within == 0) return v & 0xFFFFFFFFL;
        if (size == 4 && within == 4) return v >>> 32;
        return 0;
    }

    private void setMsip(int h, boolean on) {
        msip[h] = on;
        harts[h].setPending(MSIP_BIT, on);
    }

    private void setCompare(int h, long v) {
        mtimecmp[h] = v;
        harts[h].setTimerCompare(v < 0 ? Long.MAX_VALUE : v);
    }

    // ---- state ----

    @Override public String stateId() { return "clint"; }

    @Override
    public void saveState(StateWriter out) {
        synchronized (lock) {
            byte[] m = new byte[msip.length];
            for (int h = 0; h < m.length; h++) m[h] = (byte) (msip[h] ? 1 : 0);
            out.putBytes("msip", m);
            out.putLongs("mtimecmp", mtimecmp);
        }
    }

    /** Sets msip and mtimecmp and drives the harts' inputs from them. */
    @Override
    public void restoreState(StateReader in) throws StateException {
        byte[] m = in.getBytes("msip", new byte[harts.length]);
        long[] cmp = in.requireLongs("mtimecmp", harts.length);
        if (m.length != harts.length) throw in.invalid("saved for " + m.length + " harts, this VM has " + harts.length);
        synchronized (lock) {
            for (int h = 0; h < harts.length; h++) {
                setMsip(h, m[h] != 0);
                setCompare(h, cmp[h]);
            }
        }
    }
}
