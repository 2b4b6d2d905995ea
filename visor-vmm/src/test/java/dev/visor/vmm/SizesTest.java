package dev.visor.vmm;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SizesTest {
    @ParameterizedTest
    @CsvSource({
        "536870912, 536870912",
        "512M, 536870912",
        "512m, 536870912",
        "512MiB, 536870912",
        "512MB, 536870912",
        "1G, 1073741824",
        "1g, 1073741824",
        "1.5G, 1610612736",
        "2T, 2199023255552",
        "64K, 65536",
        "100b, 100",
        "' 16M ', 16777216",
        "0, 0",
    })
    void parses(String text, long bytes) {
        assertEquals(bytes, Sizes.parse(text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " ", "abc", "12x", "M", "1.G", "-1", "1 G B", "512MM", "0x100", "1e9", "99999999999999999999"})
    void rejects(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sizes.parse(text));
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void rejectsOverflow() {
        assertThrows(IllegalArgumentException.class, () -> Sizes.parse("8388608T"));
        assertEquals(8388607L << 40, Sizes.parse("8388607T"));
    }

    @Test
    void fractionsOfAByteAreRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sizes.parse("1.3G"));
        assertTrue(e.getMessage().contains("whole"), e.getMessage());
        assertEquals(1536, Sizes.parse("1.5K"));
    }

    @Test
    void formats() {
        assertEquals("512M", Sizes.exact(512L << 20));
        assertEquals("1G", Sizes.exact(1L << 30));
        assertEquals("1536M", Sizes.exact(1536L << 20));
        assertEquals("100", Sizes.exact(100));
        assertEquals("0", Sizes.exact(0));
        assertEquals("100 B", Sizes.human(100));
        assertEquals("1.0 KiB", Sizes.human(1024));
        assertEquals("27.4 MiB", Sizes.human((long) (27.4 * (1 << 20))));
        assertEquals("512 MiB", Sizes.human(512L << 20));
    }
}
