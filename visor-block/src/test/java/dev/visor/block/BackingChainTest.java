package dev.visor.block;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A chain base.raw <- mid1 (v3) <- mid2 (v2) <- top: reads fall through, writes stay in the top image. */
class BackingChainTest {
    @TempDir Path dir;

    @Test
    void chainOfThreeReadsThroughAndKeepsBackingFilesUnchanged() throws IOException {
        QemuImg.assume();
        int size = 4 << 20;
        Random r = new Random(21);
        byte[] model = TestImages.random(r, size - (1 << 20)); // base is shorter: the last MiB reads zeros
        model = Arrays.copyOf(model, size);
        Path base = dir.resolve("base.raw");
        Files.write(base, Arrays.copyOf(model, size - (1 << 20)));

        Path mid1 = dir.resolve("mid1.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", mid1.toString(), Integer.toString(size));
        writeSome(mid1, model, r, 10);
        Path mid2 = dir.resolve("mid2.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-o", "compat=0.10,cluster_size=4096", "-b", "mid1.qcow2", "-F", "qcow2", mid2.toString());
        writeSome(mid2, model, r, 10);
        Path top = dir.resolve("top.qcow2");
        BlockImages.create(top, "qcow2", -1, Path.of("mid2.qcow2"), "qcow2");

        String[] hashes = {TestImages.sha256(base), TestImages.sha256(mid1), TestImages.sha256(mid2)};
        try (BlockBackend disk = BlockImages.open(top, null, false)) {
            TestImages.assertContent(model, disk);
            RandomOps ops = new RandomOps(disk, model, 8, 65536);
            ops.run(200);
            model = ops.model;
        }
        assertArrayEquals(hashes, new String[] {TestImages.sha256(base), TestImages.sha256(mid1), TestImages.sha256(mid2)},
                "a backing file changed");
        QemuImg.assertClean(top);
        Path reference = dir.resolve("reference.raw");
        Files.write(reference, model);
        QemuImg.assertSameContent(top, "qcow2", reference, "raw");
        try (BlockBackend disk = BlockImages.open(top, null, true)) {
            TestImages.assertContent(model, disk);
        }
    }

    @Test
    void chainsDeeperThanTheCapAreRefused() throws IOException {
        Path previous = dir.resolve("0.raw");
        BlockImages.create(previous, "raw", 1 << 20, null, null);
        for (int i = 1; i <= BlockImages.MAX_BACKING_DEPTH; i++) {
            Path next = dir.resolve(i + ".qcow2");
            BlockImages.create(next, "qcow2", -1, previous.getFileName(), null);
            previous = next;
        }
        Path top = previous;
        TestImages.assertRefused("deeper than 64", () -> BlockImages.open(top, null, true).close());
        // One less is fine.
        try (BlockBackend disk = BlockImages.open(dir.resolve((BlockImages.MAX_BACKING_DEPTH - 1) + ".qcow2"), null, true)) {
            assertEquals(1 << 20, disk.size());
        }
    }

    /** Writes a few random pieces into {@code image} through Visor, mirroring them in {@code model}. */
    private static void writeSome(Path image, byte[] model, Random r, int count) throws IOException {
        try (BlockBackend disk = BlockImages.open(image, null, false)) {
            for (int i = 0; i < count; i++) {
                int len = 1 + r.nextInt(100_000);
                int off = r.nextInt(model.length - len);
                byte[] data = TestImages.random(r, len);
                TestImages.write(disk, off, data);
                System.arraycopy(data, 0, model, off, len);
            }
        }
        QemuImg.assertClean(image);
    }
}
