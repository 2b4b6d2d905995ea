package dev.visor.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ExitStatusFileTest {
    @TempDir
    Path dir;

    @Test
    void foundOnRunCommandLinesOnly() {
        assertEquals(Path.of("/s/exit"), ExitStatusFile.requested(new String[] {"run", "--net", "none", "--exit-status-file", "/s/exit"}));
        assertEquals(Path.of("/s/exit"), ExitStatusFile.requested(new String[] {"--debug", "run", "--exit-status-file=/s/exit"}));
        assertNull(ExitStatusFile.requested(new String[] {"run", "--net", "none"}));
        assertNull(ExitStatusFile.requested(new String[] {"run", "--exit-status-file"}), "no value: picocli says so");
        assertNull(ExitStatusFile.requested(new String[] {"control", "/s/vm.sock", "--exit-status-file", "/s/exit"}));
        assertNull(ExitStatusFile.requested(new String[] {}));
    }

    @Test
    void writtenWholeReplacingAnOldOne() throws IOException {
        Path file = dir.resolve("exit");
        Files.writeString(file, "99\n");
        ExitStatusFile.write(file, 0);
        assertEquals("0\n", Files.readString(file));
        ExitStatusFile.write(file, 70);
        assertEquals("70\n", Files.readString(file));
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary file is left");
        }
    }

    @Test
    void prepareRemovesAnOldStatusAndRefusesAMissingDirectory() throws IOException {
        Path file = Files.writeString(dir.resolve("exit"), "1\n");
        ExitStatusFile.prepare(file);
        assertFalse(Files.exists(file));
        ExitStatusFile.prepare(file); // nothing to remove is fine
        FileSystemException e = assertThrows(FileSystemException.class, () -> ExitStatusFile.prepare(dir.resolve("no/exit")));
        assertEquals(dir.resolve("no") + ": no such directory", Main.describe(e));
        assertThrows(FileSystemException.class, () -> ExitStatusFile.prepare(dir));
    }
}
