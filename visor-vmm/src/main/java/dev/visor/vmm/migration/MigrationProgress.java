package dev.visor.vmm.migration;

import java.util.Locale;

/**
 * How an outgoing migration is going, updated by the migrating thread and read from any other
 * (the control socket's {@code migrate-status}). Each field is read on its own: a reader may see
 * one round's bytes with the previous round's rate.
 */
public final class MigrationProgress {
    public enum Phase { CONNECTING, DISK_COPY, PRECOPY, STOP_AND_COPY, SWITCHING_OVER, COMPLETED, FAILED }

    volatile Phase phase = Phase.CONNECTING;
    /** Rounds sent so far (round 0 is the whole RAM). */
    volatile int round;
    /** Bytes written to the stream, headers included. */
    volatile long bytesSent;
    /** Pages found dirty at the last bitmap read. */
    volatile long dirtyPages;
    /** Bytes the guest dirtied per second, at the last bitmap read. */
    volatile double dirtyRate;
    /** Bytes per second the link carried in the last round that sent enough to tell. */
    volatile double bandwidth;
    /** Time the stop-and-copy would take now: the dirty pages at the link's rate, plus the state. */
    volatile double expectedDowntimeMillis;
    /** Auto-converge: share of time the vCPUs are held back. */
    volatile int throttlePercent;
    /** Copy-storage: guest-visible bytes of the writable disks, and how far the first full pass got. */
    volatile long diskBytesTotal, diskBytesCopied;
    /** Copy-storage: disk data sent (changed chunks sent again count again), and chunks changed and not yet resent. */
    volatile long diskBytesSent, diskDirtyChunks;
    volatile long startNanos = System.nanoTime();
    /** Set when done: from the source's pause to the destination's answer that the guest runs. */
    volatile double downtimeMillis = -1;
    volatile double totalMillis = -1;
    volatile String error;

    public Phase phase() { return phase; }
    public int round() { return round; }
    public long bytesSent() { return bytesSent; }
    public double downtimeMillis() { return downtimeMillis; }
    public double totalMillis() { return totalMillis; }
    public String error() { return error; }
    public long diskBytesCopied() { return diskBytesCopied; }
    public long diskBytesTotal() { return diskBytesTotal; }

    /** One line: {@code phase=precopy round=3 sent_mb=120.4 dirty_rate_mbps=1.2 ...}. */
    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("phase=").append(phase.name().toLowerCase(Locale.ROOT).replace('_', '-'))
                .append(" round=").append(round)
                .append(String.format(Locale.ROOT, " sent_mb=%.1f dirty_pages=%d dirty_rate_mbps=%.1f bandwidth_mbps=%.1f expected_downtime_ms=%.0f throttle=%d%%",
                        bytesSent / 1e6, dirtyPages, dirtyRate / 1e6, bandwidth / 1e6, expectedDowntimeMillis, throttlePercent));
        if (diskBytesTotal > 0) {
            s.append(String.format(Locale.ROOT, " disk_copied_mb=%.1f/%.1f disk_sent_mb=%.1f disk_dirty_chunks=%d",
                    diskBytesCopied / 1e6, diskBytesTotal / 1e6, diskBytesSent / 1e6, diskDirtyChunks));
        }
        if (totalMillis >= 0) s.append(String.format(Locale.ROOT, " total_ms=%.0f", totalMillis));
        if (downtimeMillis >= 0) s.append(String.format(Locale.ROOT, " downtime_ms=%.1f", downtimeMillis));
        if (error != null) s.append(" error: ").append(error);
        return s.toString();
    }
}
