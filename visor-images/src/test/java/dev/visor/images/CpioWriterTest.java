package dev.visor.images;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class CpioWriterTest {

    private static byte[] sample() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (CpioWriter cpio = new CpioWriter(out)) {
            cpio.directory("/bin", 0755);
            cpio.file("bin/hello", 0755, "#!/bin/sh\necho hi\n".getBytes(StandardCharsets.UTF_8));
            cpio.file("odd", 0644, new byte[] {1, 2, 3});           // a length that needs padding
            cpio.file("empty", 0600, new byte[0]);
            cpio.directory("tmp", 01777);
            cpio.symlink("bin/sh", "busybox");
            cpio.directory("dev", 0755);
            cpio.charDevice("dev/console", 0600, 5, 1);
        }
        return out.toByteArray();
    }

    @Test
    void commonsCompressReadsBackNamesModesAndContents() throws IOException {
        Map<String, TestArchives.Entry> entries = TestArchives.readCpio(sample());

        assertEquals(List.of("bin", "bin/hello", "odd", "empty", "tmp", "bin/sh", "dev", "dev/console"),
                List.copyOf(entries.keySet()));
        assertEquals(040755, entries.get("bin").mode());
        assertEquals(0100755, entries.get("bin/hello").mode());
        assertEquals("#!/bin/sh\necho hi\n", new String(entries.get("bin/hello").content(), StandardCharsets.UTF_8));
        assertArrayEquals(new byte[] {1, 2, 3}, entries.get("odd").content());
        assertEquals(0100600, entries.get("empty").mode());
        assertEquals(0, entries.get("empty").content().length);
        assertEquals(041777, entries.get("tmp").mode());
        assertEquals(0120777, entries.get("bin/sh").mode());
        assertEquals("busybox", new String(entries.get("bin/sh").content(), StandardCharsets.UTF_8));
        assertEquals(020600, entries.get("dev/console").mode());
        assertEquals(5, entries.get("dev/console").rdevMajor());
        assertEquals(1, entries.get("dev/console").rdevMinor());
        entries.values().forEach(e -> assertEquals(0, e.mtime()));
        assertEquals(entries.size(), entries.values().stream().mapToLong(TestArchives.Entry::inode).distinct().count());
    }

    @Test
    void layoutIsNewcWithFourByteAlignmentAndTrailer() throws IOException {
        byte[] cpio = sample();
        assertEquals("070701", new String(cpio, 0, 6, StandardCharsets.US_ASCII));
        assertEquals(0, cpio.length % 4);
        String text = new String(cpio, StandardCharsets.ISO_8859_1);
        assertEquals(true, text.contains("TRAILER!!!"));
        // First header: 110 bytes, then "bin\0" -> 114, padded to 116, where the next header starts.
        assertEquals("070701", new String(cpio, 116, 6, StandardCharsets.US_ASCII));
    }

    @Test
    void sameCallsGiveSameBytes() throws IOException {
        assertArrayEquals(sample(), sample());
    }

    @Test
    void refusesBadPathsDuplicatesAndModes() {
        CpioWriter cpio = new CpioWriter(new ByteArrayOutputStream());
        assertThrows(IllegalArgumentException.class, () -> cpio.file("../etc/passwd", 0644, new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> cpio.file("/", 0644, new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> cpio.file("a", 0100644, new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> {
            cpio.directory("x", 0755);
            cpio.directory("/x", 0755);
        });
    }
}
