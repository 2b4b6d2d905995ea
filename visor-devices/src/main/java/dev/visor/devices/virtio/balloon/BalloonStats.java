package dev.visor.devices.virtio.balloon;

import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;

/**
 * The guest's memory statistics as last reported through the balloon's stats queue (virtio 1.2
 * §5.5.6.3). Only the statistics the guest chose to send are present.
 *
 * @param sequence how many stats buffers the device has received since it was created; a host that
 *                 called {@link VirtioBalloon#requestStats()} waits for this to grow
 * @param values   the latest value of each statistic the guest reported (memory sizes in bytes,
 *                 the others as counts)
 */
public record BalloonStats(long sequence, Map<Stat, Long> values) {
    public static final BalloonStats NONE = new BalloonStats(0, Map.of());

    /** Statistic tags; the ordinal is the tag on the wire. */
    public enum Stat {
        SWAP_IN, SWAP_OUT, MAJOR_FAULTS, MINOR_FAULTS, FREE_MEMORY, TOTAL_MEMORY, AVAILABLE_MEMORY,
        DISK_CACHES, HUGETLB_ALLOCATIONS, HUGETLB_FAILURES,
        // added by Linux 6.12 (virtio 1.3 draft)
        OOM_KILLS, ALLOC_STALLS, ASYNC_SCANS, DIRECT_SCANS, ASYNC_RECLAIMS, DIRECT_RECLAIMS;

        private static final Stat[] BY_TAG = values();

        /** The statistic with wire tag {@code tag}, or null for a tag this VMM does not know. */
        static Stat ofTag(int tag) { return tag >= 0 && tag < BY_TAG.length ? BY_TAG[tag] : null; }
    }

    public BalloonStats {
        values = Collections.unmodifiableMap(values.isEmpty() ? new EnumMap<>(Stat.class) : new EnumMap<>(values));
    }

    /** The value of {@code stat}, or -1 when the guest did not report it. */
    public long get(Stat stat) { return values.getOrDefault(stat, -1L); }
}
