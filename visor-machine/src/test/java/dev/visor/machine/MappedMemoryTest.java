package dev.visor.machine;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** RAM mapped copy-on-write from a file (a snapshot's RAM): the file's bytes, private writes, shared reads. */
class MappedMemoryTest {
    static final long BASE = 0x8000_0000L, SIZE = 16L << 20;

    @TempDir
    Path dir;

    private Path ramFile() throws IOException {
        Path f = dir.resolve("ram");
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
            r.setLength(SIZE);
            r.seek(4096);
            r.write("page one".getBytes());
            r.seek(SIZE - 4096);
            r.write("last page".getBytes());
        }
        return f;
    }

    @Test
    void readsTheFileAndWritesStayPrivate() throws IOException {
        Path f = ramFile();
        byte[] fileBefore = Files.readAllBytes(f);
        GuestMemory a = GuestMemory.mapFile(BASE, SIZE, f);
        GuestMemory b = GuestMemory.mapFile(BASE, SIZE, f);
        assertTrue(a.isFileBacked());
        byte[] got = new byte[8];
        a.read(BASE + 4096, got, 0, 8);
        assertArrayEquals("page one".getBytes(), got);
        assertEquals((byte) 'l', a.readByte(BASE + SIZE - 4096));

        a.writeLong(BASE + 4096, 0x1122334455667788L);
        assertEquals(0x1122334455667788L, a.readLong(BASE + 4096));
        b.read(BASE + 4096, got, 0, 8);
        assertArrayEquals("page one".getBytes(), got, "another mapping does not see the write");
        assertArrayEquals(fileBefore, Files.readAllBytes(f), "the file never changes");

        HostMemory.Usage u = a.usage();
        if (u != null) assertTrue(u.anonymous() >= 4096 && u.anonymous() <= 64 << 10, "one written page is private: " + u);
    }

    @Test
    void releasedPagesReadAsZeroNotAsTheFile() throws IOException {
        GuestMemory m = GuestMemory.mapFile(BASE, SIZE, ramFile());
        m.writeByte(BASE + 8192, (byte) 7);
        m.release(BASE, 3 * 4096);
        assertEquals(0, m.readByte(BASE + 4096), "a released page reads as zero, not as the file");
        assertEquals(0, m.readByte(BASE + 8192));
        assertEquals((byte) 'l', m.readByte(BASE + SIZE - 4096), "pages outside the range keep the file");
        m.writeByte(BASE + 4096, (byte) 9);
        assertEquals(9, m.readByte(BASE + 4096), "a released page is usable RAM");
    }

    @Test
    void aFileOfAnotherSizeIsRefused() throws IOException {
        Path f = ramFile();
        IOException e = assertThrows(IOException.class, () -> GuestMemory.mapFile(BASE, SIZE * 2, f));
        assertTrue(e.getMessage().contains("bytes"), e.getMessage());
        assertThrows(IOException.class, () -> GuestMemory.mapFile(BASE, SIZE, dir.resolve("missing")));
    }

    @Test
    void usageOfAnonymousRamCountsWrittenPages() {
        GuestMemory m = new GuestMemory(BASE, SIZE);
        for (long a = 0; a < (4L << 20); a += 4096) m.writeByte(BASE + a, (byte) 1);
        HostMemory.Usage u = m.usage();
        if (u == null) return; // not Linux
        assertNotNull(u);
        assertEquals(4L << 20, u.anonymous(), u.toString());
        assertEquals(4L << 20, u.rss(), u.toString());
    }
}
