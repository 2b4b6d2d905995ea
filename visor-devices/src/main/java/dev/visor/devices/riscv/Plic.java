package dev.visor.devices.riscv;

import dev.visor.machine.state.StateException;
import dev.visor.machine.state.StateReader;
import dev.visor.machine.state.StateWriter;
import dev.visor.machine.state.Stateful;
import dev.visor.machine.InterruptPins;
import dev.visor.machine.IrqLine;
import dev.visor.machine.MmioDevice;

import java.util.Objects;

/**
 * The SiFive platform-level interrupt controller as on QEMU's {@code virt} board.
 *
 * <p>Register map (32-bit registers; 8-byte accesses act as two 32-bit ones, low word first; other
 * sizes or misaligned offsets read 0 and ignore writes):
 * <ul>
 *   <li>{@code 0x000000 + 4*src}: priority of source {@code src} (0..7; source 0 is reserved, reads 0)</li>
 *   <li>{@code 0x001000 + 4*w}: pending bits of sources {@code 32w..32w+31} (read-only)</li>
 *   <li>{@code 0x002000 + 0x80*ctx + 4*w}: enable bits of context {@code ctx}</li>
 *   <li>{@code 0x200000 + 0x1000*ctx}: priority threshold of context {@code ctx}</li>
 *   <li>{@code 0x200004 + 0x1000*ctx}: claim (read) / complete (write)</li>
 * </ul>
 * Contexts: for hart {@code h}, context {@code 2h} drives its machine external interrupt
 * ({@code mip} bit 11) and context {@code 2h+1} its supervisor external interrupt (bit 9).
 *
 * <p>Sources are level-triggered (the gateway follows the line): a source is pending while its line
 * is high and it is not in service. A claim returns the pending, enabled source of highest priority
 * above the context's threshold (ties go to the lowest id; 0 if none), clears its pending bit and puts
 * it in service, so it is not delivered again until completed. Completing a source ends service; if
 * its line is still high it is pending again at once. A completion is honoured even if the source is
 * no longer enabled for the context (lenient, like QEMU; Linux toggles the enable around it anyway).
 *
 * <p>Thread-safe: lines and registers share one lock, and each context's pin is driven (only when its
 * level changes) while holding it, so levels cannot be reordered. {@link InterruptPins} must not call
 * back into the PLIC.
 */
public final class Plic implements MmioDevice, Stateful {
    /** Source ids 0..95 like QEMU's {@code virt} (source 0 reserved, so {@code riscv,ndev = 95}). */
    public static final int DEFAULT_SOURCES = 96;
    /** QEMU's virt has 7 priority levels (1..7), so priorities and thresholds are 3 bits. */
    public static final int PRIORITY_MASK = 7;

    public static final long PENDING_BASE = 0x1000;
    public static final long ENABLE_BASE = 0x2000;
    public static final long ENABLE_STRIDE = 0x80;
    public static final long CONTEXT_BASE = 0x200000;
    public static final long CONTEXT_STRIDE = 0x1000;
    /** Size of the register window on the board. */
    public static final long SIZE = 0x600000;

    private static final int MEIP = 11, SEIP = 9;

    private final Object lock = new Object();
    private final InterruptPins[] harts;
    private final int sources;
    private final int words;
    private final int contexts;
    private final IrqLine[] lines;

    private final int[] priority;
    /** Bitsets over source ids. */
    private final int[] level, pending, claimed;
    private final int[][] enable;
    private final int[] threshold;
    /** Level last driven onto each context's pin. */
    private final boolean[] driven;

    /** A PLIC with {@value #DEFAULT_SOURCES} source ids and two contexts per hart. */
    public Plic(InterruptPins[] harts) {
        this(harts, DEFAULT_SOURCES);
    }

    /**
     * @param harts the harts' interrupt pins, in hart-id order
     * @param sources number of source ids including the reserved source 0 (2..1024)
     */
    public Plic(InterruptPins[] harts, int sources) {
        if (sources < 2 || sources > 1024) throw new IllegalArgumentException("PLIC sources: " + sources);
        this.harts = harts.clone();
        for (InterruptPins p : this.harts) Objects.requireNonNull(p, "hart pins");
        this.sources = sources;
        this.words = (sources + 31) >>> 5;
        this.contexts = 2 * harts.length;
        this.priority = new int[sources];
        this.level = new int[words];
        this.pending = new int[words];
        this.claimed = new int[words];
        this.enable = new int[contexts][words];
        this.threshold = new int[contexts];
        this.driven = new boolean[contexts];
        this.lines = new IrqLine[sources];
        for (int s = 1; s < sources; s++) {
            int src = s;
            lines[s] = lvl -> setLevel(src, lvl);
        }
    }

    /** The level-triggered input of source {@code source} (1..sources-1). */
    public IrqLine line(int source) {
        if (source < 1 || source >= sources) throw new IllegalArgumentException("no PLIC source " + source);
        return lines[source];
    }

    /** Number of source ids including reserved 0; the device tree's {@code riscv,ndev} is one less. */
    public int sources() { return sources; }

    /** Number of contexts, two per hart. */
    public int contexts() { return contexts; }

    /** Back to power-on state: priorities, enables, thresholds and in-service state cleared. */
    public void reset() {
        synchronized (lock) {
            java.util.Arrays.fill(priority, 0);
            java.util.Arrays.fill(claimed, 0);
            java.util.Arrays.fill(threshold, 0);
            for (int[] e : enable) java.util.Arrays.fill(e, 0);
            System.arraycopy(level, 0, pending, 0, words);
            update();
        }
    }

    private void setLevel(int src, boolean high) {
        int w = src >>> 5, bit = 1 << src;
        synchronized (lock) {
            boolean was = (level[w] & bit) != 0;
            if (was == high) return;
            if (high) level[w] |= bit; else level[w] &= ~bit;
            // While in service the gateway holds the request back; completion looks at the level again.
            if ((claimed[w] & bit) == 0) {
                if (high) pending[w] |= bit; else pending[w] &= ~bit;
                update();
            }
        }
    }

    // ---- registers ----

    @Override
    public long read(long offset, int size) {
        if (size == 4 && (offset & 3) == 0) return read32(offset) & 0xFFFFFFFFL;
        if (size == 8 && (offset & 7) == 0) {
            long lo = read32(offset) & 0xFFFFFFFFL;
            return lo | ((read32(offset + 4) & 0xFFFFFFFFL) << 32);
        }
        return 0;
    }

    @Override
    public void write(long offset, int size, long value) {
        if (size == 4 && (offset & 3) == 0) {
            write32(offset, (int) value);
        } else if (size == 8 && (offset & 7) == 0) {
            write32(offset, (int) value);
            write32(offset + 4, (int) (value >>> 32));
        }
    }

    private int read32(long off) {
        synchronized (lock) {
            if (off >= 0 && off < PENDING_BASE) {
                int src = (int) (off >>> 2);
                return src < sources ? priority[src] : 0;
            }
            if (off >= PENDING_BASE && off < ENABLE_BASE) {
                int w = (int) ((off - PENDING_BASE) >>> 2);
                return w < words ? pending[w] : 0;
            }
            if (off >= ENABLE_BASE && off < CONTEXT_BASE) {
                long ctx = (off - ENABLE_BASE) / ENABLE_STRIDE;
                int w = (int) (((off - ENABLE_BASE) % ENABLE_STRIDE) >>> 2);
                return ctx < contexts && w < words ? enable[(int) ctx][w] : 0;
            }
            if (off >= CONTEXT_BASE && off < SIZE) {
                long ctx = (off - CONTEXT_BASE) / CONTEXT_STRIDE;
                long reg = (off - CONTEXT_BASE) % CONTEXT_STRIDE;
                if (ctx >= contexts) return 0;
                if (reg == 0) return threshold[(int) ctx];
                if (reg == 4) return claim((int) ctx);
            }
            return 0;
        }
    }

    private void write32(long off, int v) {
        synchronized (lock) {
            if (off >= 0 && off < PENDING_BASE) {
                int src = (int) (off >>> 2);
                if (src >= 1 && src < sources) {
                    priority[src] = v & PRIORITY_MASK;
                    update();
                }
            } else if (off >= ENABLE_BASE && off < CONTEXT_BASE) {
                long ctx = (off - ENABLE_BASE) / ENABLE_STRIDE;
                int w = (int) (((off - ENABLE_BASE) % ENABLE_STRIDE) >>> 2);
                if (ctx < contexts && w < words) {
                    enable[(int) ctx][w] = v & validMask(w);
                    update();
                }
            } else if (off >= CONTEXT_BASE && off < SIZE) {
                long ctx = (off - CONTEXT_BASE) / CONTEXT_STRIDE;
                long reg = (off - CONTEXT_BASE) % CONTEXT_STRIDE;
                if (ctx >= contexts) return;
                if (reg == 0) {
                    threshold[(int) ctx] = v & PRIORITY_MASK;
                    update();
                } else if (reg == 4) {
                    complete(v);
                }
            }
            // Pending bits are read-only; everything else is reserved.
        }
    }

    /** Bits of word {@code w} naming real sources (never source 0, nothing past the last). */
    private int validMask(int w) {
        int m = -1;
        if (w == 0) m &= ~1;
        int past = sources - (w << 5);
        if (past < 32) m &= (1 << past) - 1;
        return m;
    }

    private int claim(int ctx) {
        int src = best(ctx);
        if (src != 0) {
            int w = src >>> 5, bit = 1 << src;
            pending[w] &= ~bit;
            claimed[w] |= bit;
            update();
        }
        return src;
    }

    private void complete(int src) {
        if (src < 1 || src >= sources) return;
        int w = src >>> 5, bit = 1 << src;
        if ((claimed[w] & bit) == 0) return;
        claimed[w] &= ~bit;
        if ((level[w] & bit) != 0) pending[w] |= bit; // still asserted: pending again
        update();
    }

    /** The source a claim by {@code ctx} would get, or 0. Caller holds the lock. */
    private int best(int ctx) {
        int[] en = enable[ctx];
        int bestSrc = 0, bestPrio = threshold[ctx];
        for (int w = 0; w < words; w++) {
            int bits = pending[w] & en[w] & ~claimed[w];
            while (bits != 0) {
                int b = Integer.numberOfTrailingZeros(bits);
                bits &= bits - 1;
                int src = (w << 5) | b;
                // Strictly greater: ties keep the lower id, and priority 0 never beats threshold 0.
                if (priority[src] > bestPrio) {
                    bestPrio = priority[src];
                    bestSrc = src;
                }
            }
        }
        return bestSrc;
    }

    /** Re-evaluates every context and drives pins whose level changed. Caller holds the lock. */
    private void update() {
        for (int ctx = 0; ctx < contexts; ctx++) {
            boolean lvl = best(ctx) != 0;
            if (lvl != driven[ctx]) {
                driven[ctx] = lvl;
                harts[ctx >>> 1].setPending((ctx & 1) == 0 ? MEIP : SEIP, lvl);
            }
        }
    }

    // ---- state ----

    @Override public String stateId() { return "plic"; }

    @Override
    public void saveState(StateWriter out) {
        synchronized (lock) {
            out.putInt("sources", sources);
            out.putInt("contexts", contexts);
            out.putInts("priority", priority);
            out.putInts("level", level);
            out.putInts("pending", pending);
            out.putInts("claimed", claimed);
            int[] en = new int[contexts * words];
            for (int c = 0; c < contexts; c++) System.arraycopy(enable[c], 0, en, c * words, words);
            out.putInts("enable", en);
            out.putInts("threshold", threshold);
        }
    }

    /**
     * Sets the registers and the gateways' state, then drives every context's output afresh (the
     * harts' external-interrupt inputs match the restored pending/enable/claimed bits).
     */
    @Override
    public void restoreState(StateReader in) throws StateException {
        int s = in.getInt("sources", sources), c = in.getInt("contexts", contexts);
        if (s != sources || c != contexts) {
            throw in.invalid("saved with " + s + " sources and " + c + " contexts; this board has " + sources + " and " + contexts);
        }
        int[] prio = in.requireInts("priority", sources);
        int[] lvl = in.requireInts("level", words), pend = in.requireInts("pending", words), cl = in.requireInts("claimed", words);
        int[] en = in.requireInts("enable", contexts * words);
        int[] th = in.requireInts("threshold", contexts);
        synchronized (lock) {
            for (int i = 0; i < sources; i++) priority[i] = i == 0 ? 0 : prio[i] & PRIORITY_MASK;
            for (int w = 0; w < words; w++) {
                int m = validMask(w);
                level[w] = lvl[w] & m;
                pending[w] = pend[w] & m;
                claimed[w] = cl[w] & m;
            }
            for (int k = 0; k < contexts; k++) {
                for (int w = 0; w < words; w++) enable[k][w] = en[k * words + w] & validMask(w);
                threshold[k] = th[k] & PRIORITY_MASK;
            }
            for (int k = 0; k < contexts; k++) {
                driven[k] = best(k) != 0;
                harts[k >>> 1].setPending((k & 1) == 0 ? MEIP : SEIP, driven[k]);
            }
        }
    }
}
