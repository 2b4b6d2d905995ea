package dev.visor.daemon.monitor;

/**
 * The host's cumulative CPU time since boot, summed over all CPUs, from the {@code cpu} line of
 * {@code /proc/stat}, in jiffies (USER_HZ ticks, 100 per second on Linux whatever the kernel's HZ).
 * Two samples give the host's CPU use in between: {@link #busyRatioSince(CpuTimes)}.
 *
 * @param busyJiffies  user + nice + system + irq + softirq + steal (guest time is already inside user/nice)
 * @param totalJiffies busy + idle + iowait
 */
public record CpuTimes(long busyJiffies, long totalJiffies) {
    /** Ticks per second of /proc/stat's counters (USER_HZ; fixed at 100 by the Linux ABI). */
    public static final int USER_HZ = 100;

    /** Nothing known (no /proc/stat). */
    public static final CpuTimes ZERO = new CpuTimes(0, 0);

    /** Idle + iowait jiffies. */
    public long idleJiffies() {
        return totalJiffies - busyJiffies;
    }

    public double busySeconds() {
        return (double) busyJiffies / USER_HZ;
    }

    public double idleSeconds() {
        return (double) idleJiffies() / USER_HZ;
    }

    /**
     * The fraction (0..1) of the host's CPU time that was busy between {@code earlier} and this sample;
     * 0 when no time passed (or the counters went backwards, e.g. an earlier sample from another boot).
     */
    public double busyRatioSince(CpuTimes earlier) {
        long total = totalJiffies - earlier.totalJiffies;
        long busy = busyJiffies - earlier.busyJiffies;
        if (total <= 0 || busy < 0) return 0.0;
        return Math.min(1.0, (double) busy / total);
    }
}
