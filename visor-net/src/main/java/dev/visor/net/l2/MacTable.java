package dev.visor.net.l2;

import java.util.HashMap;

/**
 * A learning switch's forwarding table: MAC address to the port it was last seen on. Entries age out
 * so a VM that moved or went away is eventually flooded to again. Not thread-safe: owned by the
 * switch's selector thread. Times are {@link System#nanoTime} values passed in (tests pass their own).
 *
 * @param <P> the switch's port type, compared by identity
 */
final class MacTable<P> {
    /** One learned address. */
    private static final class Entry<P> {
        /** Where the address was last seen. */
        P port;
        /** When, in nanoTime. */
        long seenNanos;
    }

    /** Learned addresses, keyed by the 48-bit MAC packed into a long. */
    private final HashMap<Long, Entry<P>> entries = new HashMap<>();
    /** At most this many addresses: stops a client that sprays random source MACs from growing the table without bound. */
    private final int capacity;
    /** An entry not refreshed for longer than this is forgotten. */
    private final long maxAgeNanos;

    MacTable(int capacity, long maxAgeNanos) {
        this.capacity = capacity;
        this.maxAgeNanos = maxAgeNanos;
    }

    /** Records that {@code mac} sent from {@code port}. When the table is full, new addresses are not learned (frames to them flood). */
    void learn(long mac, P port, long nowNanos) {
        Entry<P> e = entries.get(mac);
        if (e == null) {
            if (entries.size() >= capacity) {
                return;
            }
            e = new Entry<>();
            entries.put(mac, e);
        }
        e.port = port;
        e.seenNanos = nowNanos;
    }

    /** The port {@code mac} lives behind, or null if unknown or aged out. */
    P lookup(long mac, long nowNanos) {
        Entry<P> e = entries.get(mac);
        if (e == null) {
            return null;
        }
        if (nowNanos - e.seenNanos > maxAgeNanos) {
            entries.remove(mac);
            return null;
        }
        return e.port;
    }

    /** Forgets every address learned on {@code port} (it disconnected). */
    void forget(P port) {
        entries.values().removeIf(e -> e.port == port);
    }

    /** Drops aged-out entries (lookups ignore them anyway; this bounds memory). */
    void expire(long nowNanos) {
        entries.values().removeIf(e -> nowNanos - e.seenNanos > maxAgeNanos);
    }

    int size() {
        return entries.size();
    }
}
