package dev.visor.images;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Runs the host's e2fsprogs; skipped where mke2fs is not installed. */
class DataDiskTest {
    @TempDir
    Path dir;

    @Test
    void makesACleanExt4FileSystemHoldingTheFiles() throws Exception {
        assumeTrue(DataDisk.findMke2fs().isPresent(), "e2fsprogs not installed");
        Path content = Files.createDirectories(dir.resolve("content/sub"));
        Files.writeString(content.resolve("hello.txt"), "hello from the host\n");
        Files.writeString(content.getParent().resolve("top.txt"), "top\n");
        Path image = dir.resolve("data.img");
        Files.write(image, new byte[200 << 20 >> 4]); // an older, different file is replaced

        DataDisk.createExt4(image, 16 << 20, content.getParent());

        assertEquals(16 << 20, Files.size(image));
        assertEquals("hello from the host\n", e2fs("debugfs", "-R", "cat /sub/hello.txt", image.toString()).output());
        assertEquals("top\n", e2fs("debugfs", "-R", "cat /top.txt", image.toString()).output());
        assertTrue(e2fs("dumpe2fs", "-h", image.toString()).output().contains("has_journal"), "ext4 has a journal");
        assertTrue(e2fs("dumpe2fs", "-h", image.toString()).output().contains("extent"), "ext4 uses extents");
        Run fsck = e2fs("e2fsck", "-fn", image.toString());
        assertEquals(0, fsck.status(), fsck.output());
    }

    @Test
    void makesAnEmptyFileSystemWithoutContent() throws Exception {
        assumeTrue(DataDisk.findMke2fs().isPresent(), "e2fsprogs not installed");
        Path image = dir.resolve("empty.img");
        DataDisk.createExt4(image, 8 << 20, null);
        assertEquals(0, e2fs("e2fsck", "-fn", image.toString()).status());
    }

    @Test
    void reportsMke2fsFailureInOneLineAndLeavesNoImage() {
        assumeTrue(DataDisk.findMke2fs().isPresent(), "e2fsprogs not installed");
        Path image = dir.resolve("tiny.img");
        ImageException e = assertThrows(ImageException.class, () -> DataDisk.createExt4(image, 8 << 10, null));
        assertTrue(e.getMessage().startsWith("mke2fs could not make the ext4 data disk " + image + " (exit status 1): "),
                e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
        assertFalse(Files.exists(image));
    }

    @Test
    void refusesBadArguments() {
        Path image = dir.resolve("x.img");
        assertThrows(IllegalArgumentException.class, () -> DataDisk.createExt4(image, 1000, null));
        assertThrows(IllegalArgumentException.class, () -> DataDisk.createExt4(image, 0, null));
        ImageException e = assertThrows(ImageException.class,
                () -> DataDisk.createExt4(image, 8 << 20, dir.resolve("absent")));
        assertTrue(e.getMessage().endsWith("absent: not a directory"), e.getMessage());
    }

    private record Run(int status, String output) {}

    /** Runs an e2fsprogs tool (found like mke2fs, beside it) and returns its stdout. */
    private static Run e2fs(String tool, String... args) throws IOException, InterruptedException {
        Path mke2fs = DataDisk.findMke2fs().orElseThrow();
        List<String> command = new ArrayList<>(List.of(mke2fs.resolveSibling(tool).toString()));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Run(process.waitFor(), output);
    }
}
