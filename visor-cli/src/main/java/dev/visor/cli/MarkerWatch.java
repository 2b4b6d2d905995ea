package dev.visor.cli;

import java.nio.charset.StandardCharsets;

/**
 * Finds a marker in a byte stream that arrives in pieces (Knuth-Morris-Pratt, so a marker split
 * across writes or following a false start is still found). Pure; not thread-safe.
 */
public final class MarkerWatch {
    private final byte[] marker;
    private final int[] fallback;
    private int matched;
    private boolean found;

    public MarkerWatch(String marker) {
        this.marker = marker.getBytes(StandardCharsets.UTF_8);
        if (this.marker.length == 0) throw new IllegalArgumentException("empty marker");
        fallback = new int[this.marker.length];
        for (int i = 1, k = 0; i < this.marker.length; i++) {
            while (k > 0 && this.marker[i] != this.marker[k]) k = fallback[k - 1];
            if (this.marker[i] == this.marker[k]) k++;
            fallback[i] = k;
        }
    }

    /** Scans more bytes; true once the marker has been seen (in these bytes or before). */
    public boolean feed(byte[] data, int off, int len) {
        for (int i = off; i < off + len && !found; i++) {
            byte b = data[i];
            while (matched > 0 && b != marker[matched]) matched = fallback[matched - 1];
            if (b == marker[matched]) matched++;
            if (matched == marker.length) found = true;
        }
        return found;
    }

    public boolean found() {
        return found;
    }
}
