package dev.visor.block;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * A request's scattered buffers (readInto, writeFrom): on a raw image they move in one preadv or
 * pwritev (VectoredIo), on qcow2 reads in one preadv per run contiguous in the file and writes
 * piece by piece; both must put every byte where
 * the pieces say, in order, and refuse pieces outside RAM or ranges outside the disk before moving anything.
 */
class ScatterIoTest {
    static final int DISK = 1 << 20, RAM = 64 << 10;
    /** Pieces of RAM (offset, length), out of address order as a guest's pages are, one of them odd-sized. */
    static final long[] AT = {8192, 0, 30000, 12288, 50000}, LEN = {4096, 512, 10000, 4096, 1};

    @Test
    void rawReadsAndWritesScatteredPieces(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("d.raw");
        byte[] content = new byte[DISK];
        new Random(7).nextBytes(content);
        Files.write(file, content);
        try (BlockBackend disk = BlockImages.open(file, null, false); Arena arena = Arena.ofConfined()) {
            if (System.getProperty("os.name").equals("Linux")) {
                assertEquals(true, ((RawImage) disk).usesVectoredIo(), "a raw image on Linux uses preadv/pwritev");
            }
            check(disk, content, arena);
        }
        assertArrayEquals(expectedAfterWrite(content), Files.readAllBytes(file), "the file after writeFrom");
    }

    @Test
    void qcow2ReadsScatteredPiecesToo(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("d.qcow2");
        BlockImages.create(file, "qcow2", DISK, null, null);
        byte[] content = new byte[DISK];
        new Random(7).nextBytes(content);
        try (BlockBackend disk = BlockImages.open(file, null, false); Arena arena = Arena.ofConfined()) {
            if (System.getProperty("os.name").equals("Linux")) {
                assertEquals(true, ((Qcow2Image) disk).usesVectoredIo(), "a qcow2 image on Linux reads with preadv");
            }
            disk.write(0, MemorySegment.ofArray(content));
            check(disk, content, arena);
            byte[] back = new byte[DISK];
            disk.read(0, MemorySegment.ofArray(back));
            assertArrayEquals(expectedAfterWrite(content), back, "the disk after writeFrom");
        }
    }

    /** Reads from disk offset 4096 into the pieces, then writes the pieces (changed) back at 200000. */
    static void check(BlockBackend disk, byte[] content, Arena arena) throws IOException {
        MemorySegment ram = arena.allocate(RAM);
        ram.fill((byte) 0x5a);
        disk.readInto(4096, ram, AT, LEN, AT.length);
        int pos = 4096;
        for (int i = 0; i < AT.length; i++) {
            byte[] got = ram.asSlice(AT[i], LEN[i]).toArray(ValueLayout.JAVA_BYTE);
            assertArrayEquals(Arrays.copyOfRange(content, pos, pos + (int) LEN[i]), got, "piece " + i);
            pos += (int) LEN[i];
        }
        assertEquals(0x5a, ram.get(ValueLayout.JAVA_BYTE, 4096), "a byte between the pieces was left alone");

        for (int i = 0; i < AT.length; i++) ram.asSlice(AT[i], LEN[i]).fill((byte) (i + 1));
        disk.writeFrom(200_000, ram, AT, LEN, AT.length);

        // refused: a piece past RAM (raw: before anything moves), a range past the disk
        long[] badAt = {0, RAM - 100}, badLen = {4096, 4096};
        assertThrows(RuntimeException.class, () -> disk.readInto(0, ram, badAt, badLen, 2));
        assertThrows(BlockException.class, () -> disk.readInto(DISK - 4096, ram, AT, LEN, AT.length));
        assertThrows(BlockException.class, () -> disk.writeFrom(DISK - 100, ram, AT, LEN, AT.length));
    }

    static byte[] expectedAfterWrite(byte[] content) {
        byte[] e = content.clone();
        int pos = 200_000;
        for (int i = 0; i < AT.length; i++) {
            Arrays.fill(e, pos, pos + (int) LEN[i], (byte) (i + 1));
            pos += (int) LEN[i];
        }
        return e;
    }
}
