package dev.visor.block;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.function.Executable;

/** Small helpers shared by the block tests. */
final class TestImages {
    private TestImages() {}

    static byte[] random(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    /** Whole guest content of a disk. */
    static byte[] readAll(BlockBackend disk) throws IOException {
        byte[] all = new byte[Math.toIntExact(disk.size())];
        disk.read(0, MemorySegment.ofArray(all));
        return all;
    }

    static byte[] read(BlockBackend disk, long offset, int length) throws IOException {
        byte[] b = new byte[length];
        disk.read(offset, MemorySegment.ofArray(b));
        return b;
    }

    /**
     * Reads like virtio-blk does (readInto): length bytes at offset into pieces of 4 KiB and of odd
     * sizes, placed in reverse order with gaps in a native segment standing for guest RAM.
     */
    static byte[] readScattered(BlockBackend disk, long offset, int length, Random r) throws IOException {
        java.util.List<long[]> pieces = new java.util.ArrayList<>();
        for (int left = length; left > 0; ) {
            int n = Math.min(left, r.nextBoolean() ? 4096 : 1 + r.nextInt(9000));
            pieces.add(new long[] {0, n});
            left -= n;
        }
        long place = 2L * length + 8192;
        long[] at = new long[pieces.size()], len = new long[pieces.size()];
        for (int i = 0; i < at.length; i++) {
            len[i] = pieces.get(i)[1];
            place -= len[i] + r.nextInt(3);
            at[i] = place;
        }
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            java.lang.foreign.MemorySegment ram = arena.allocate(2L * length + 8192);
            disk.readInto(offset, ram, at, len, at.length);
            byte[] out = new byte[length];
            int pos = 0;
            for (int i = 0; i < at.length; i++) {
                java.lang.foreign.MemorySegment.copy(ram, java.lang.foreign.ValueLayout.JAVA_BYTE, at[i], out, pos, (int) len[i]);
                pos += (int) len[i];
            }
            return out;
        }
    }

    static void write(BlockBackend disk, long offset, byte[] data) throws IOException {
        disk.write(offset, MemorySegment.ofArray(data));
    }

    static String sha256(Path file) throws IOException {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /** Overwrites bytes of a file in place (to corrupt headers). */
    static void patch(Path file, long offset, ByteBuffer bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            while (bytes.hasRemaining()) ch.write(bytes, offset + bytes.position());
        }
    }

    static void patchLong(Path file, long offset, long value) throws IOException {
        patch(file, offset, ByteBuffer.allocate(8).putLong(0, value));
    }

    static void patchInt(Path file, long offset, int value) throws IOException {
        patch(file, offset, ByteBuffer.allocate(4).putInt(0, value));
    }

    static long readLong(Path file, long offset) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(8);
            ch.read(b, offset);
            return b.getLong(0);
        }
    }

    /** Asserts the action fails with a one-line BlockException that mentions {@code fragment}; returns the message. */
    static String assertRefused(String fragment, Executable action) {
        BlockException e = assertThrows(BlockException.class, action);
        String m = e.getMessage();
        assertFalse(m.contains("\n"), () -> "message is not one line: " + m);
        assertTrue(m.contains(fragment), () -> "message '" + m + "' does not mention '" + fragment + "'");
        return m;
    }

    /** Asserts the disk shows exactly {@code expected}, read whole and in odd pieces. */
    static void assertContent(byte[] expected, BlockBackend disk) throws IOException {
        assertArrayEquals(expected, readAll(disk), "whole-disk read");
        Random r = new Random(7);
        for (int i = 0; i < 20; i++) {
            int len = 1 + r.nextInt(Math.min(expected.length, 200_000));
            int off = r.nextInt(expected.length - len + 1);
            byte[] want = java.util.Arrays.copyOfRange(expected, off, off + len);
            assertArrayEquals(want, read(disk, off, len), "read at " + off + " of " + len);
        }
    }
}
