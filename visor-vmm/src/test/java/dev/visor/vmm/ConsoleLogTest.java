package dev.visor.vmm;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** --serial-log: appended to across runs, private, and rotated to FILE.1 past its limit. */
class ConsoleLogTest {
    @TempDir
    Path dir;

    private static void write(ConsoleLog log, String s) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        log.write(b, 0, b.length);
    }

    private static String read(Path p) throws IOException {
        return Files.readString(p, StandardCharsets.US_ASCII);
    }

    @Test
    void appendsAcrossRunsToAFileOnlyTheUserCanRead() throws IOException {
        Path file = dir.resolve("console.log");
        try (ConsoleLog log = ConsoleLog.open(file)) {
            write(log, "first run\n");
        }
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        try (ConsoleLog log = ConsoleLog.open(file)) {
            write(log, "second run\n");
            log.write('!');
        }
        assertEquals("first run\nsecond run\n!", read(file));
    }

    @Test
    void passingTheLimitMovesTheFileToDotOneAndStartsANewOne() throws IOException {
        Path file = dir.resolve("console.log"), old = dir.resolve("console.log.1");
        try (ConsoleLog log = ConsoleLog.open(file, 100)) {
            write(log, "a".repeat(60));
            write(log, "b".repeat(40));
            assertFalse(Files.exists(old), "at the limit, not past it");
            write(log, "c".repeat(10));
            assertEquals("a".repeat(60) + "b".repeat(40) + "c".repeat(10), read(old));
            assertEquals("", read(file));
            write(log, "d".repeat(30));
            write(log, "e".repeat(80));
            assertEquals("d".repeat(30) + "e".repeat(80), read(old), "the older FILE.1 is replaced");
            assertEquals("", read(file));
            write(log, "f");
        }
        assertEquals("f", read(file));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
    }

    @Test
    void aLargeWriteGoesThroughWhole() throws IOException {
        Path file = dir.resolve("big.log");
        byte[] big = new byte[100_000]; // more than the log's direct buffer
        for (int i = 0; i < big.length; i++) big[i] = (byte) ('0' + i % 10);
        try (ConsoleLog log = ConsoleLog.open(file)) {
            log.write(big, 0, big.length);
        }
        assertEquals(new String(big, StandardCharsets.US_ASCII), read(file));
    }

    @Test
    void aMissingDirectoryIsOneLineNamingTheFile() {
        Path file = dir.resolve("no/such/dir/console.log");
        IOException e = assertThrows(IOException.class, () -> ConsoleLog.open(file));
        assertEquals("--serial-log " + file + ": no such file or directory", e.getMessage());
        assertTrue(!e.getMessage().contains("\n"));
    }
}
