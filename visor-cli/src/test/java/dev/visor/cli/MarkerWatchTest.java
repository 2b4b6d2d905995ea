package dev.visor.cli;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MarkerWatchTest {
    private static boolean feed(MarkerWatch w, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return w.feed(b, 0, b.length);
    }

    @Test
    void findsTheMarkerInOneWrite() {
        MarkerWatch w = new MarkerWatch("visor: shell ready");
        assertFalse(feed(w, "[    1.0] Run /init as init process\r\n"));
        assertTrue(feed(w, "mounting\r\nvisor: shell ready\r\n~ # "));
        assertTrue(w.found());
        assertTrue(feed(w, "anything"), "stays found");
    }

    @Test
    void findsTheMarkerSplitAcrossWrites() {
        MarkerWatch w = new MarkerWatch("visor: shell ready");
        for (char c : "xx visor: shell ready".toCharArray()) feed(w, String.valueOf(c));
        assertTrue(w.found());
    }

    @Test
    void falseStartsDoNotHideTheMarker() {
        assertTrue(feed(new MarkerWatch("visor: shell ready"), "visor: visor: shell ready"));
        assertTrue(feed(new MarkerWatch("aab"), "aaab"));
        assertTrue(feed(new MarkerWatch("abab"), "abaabab"));
        assertFalse(feed(new MarkerWatch("visor: shell ready"), "visor: shell read"));
        assertFalse(feed(new MarkerWatch("visor: shell ready"), "visor: shell\r\nready"));
    }

    @Test
    void honoursOffsets() {
        MarkerWatch w = new MarkerWatch("ready");
        byte[] b = "ready-----".getBytes(StandardCharsets.US_ASCII);
        assertFalse(w.feed(b, 1, 9));
        assertTrue(w.feed(b, 0, 5));
        assertThrows(IllegalArgumentException.class, () -> new MarkerWatch(""));
    }
}
