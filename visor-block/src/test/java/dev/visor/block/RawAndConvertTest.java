package dev.visor.block;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Raw images, and converting between formats. */
class RawAndConvertTest {
    @TempDir Path dir;

    @Test
    void rawReadsWritesZeroesAndRefusesWhenReadOnly() throws IOException {
        Path p = dir.resolve("r.raw");
        byte[] model = TestImages.random(new Random(1), 3 << 20);
        Files.write(p, model);
        try (BlockBackend disk = BlockImages.open(p, null, false)) {
            assertEquals("raw", disk.format());
            RandomOps ops = new RandomOps(disk, model, 5, 4096);
            ops.run(200);
            model = ops.model;
            disk.writeZeroes(0, 2 << 20); // crosses the 1 MiB zero chunk
            Arrays.fill(model, 0, 2 << 20, (byte) 0);
            disk.flush();
            TestImages.assertRefused("does not fit", () -> TestImages.read(disk, (3 << 20) - 10, 11));
            TestImages.assertRefused("does not fit", () -> TestImages.read(disk, -1, 1));
        }
        assertArrayEquals(model, Files.readAllBytes(p));
        try (BlockBackend disk = BlockImages.open(p, "raw", true)) {
            assertTrue(disk.readOnly());
            TestImages.assertRefused("read-only", () -> TestImages.write(disk, 0, new byte[1]));
            TestImages.assertRefused("read-only", () -> disk.writeZeroes(0, 1));
            TestImages.assertRefused("read-only", () -> disk.discard(0, 512));
        }
    }

    @Test
    void convertsChainToSparseQcow2AndRaw() throws IOException {
        QemuImg.assume();
        int size = 4 << 20;
        byte[] model = new byte[size];
        byte[] island = TestImages.random(new Random(2), 300_000);
        System.arraycopy(island, 0, model, 1_000_000, island.length);
        Files.write(dir.resolve("base.raw"), model);
        Path top = dir.resolve("top.qcow2");
        BlockImages.create(top, "qcow2", -1, Path.of("base.raw"), null);
        try (BlockBackend disk = BlockImages.open(top, null, false)) {
            byte[] more = TestImages.random(new Random(3), 70_000);
            TestImages.write(disk, 3_000_000, more);
            System.arraycopy(more, 0, model, 3_000_000, more.length);
        }
        Path reference = dir.resolve("reference.raw");
        Files.write(reference, model);

        Path q = dir.resolve("out.qcow2");
        AtomicLong progress = new AtomicLong();
        BlockImages.convert(top, null, q, "qcow2", progress::set);
        assertEquals(size, progress.get());
        QemuImg.assertClean(q);
        QemuImg.assertSameContent(q, "qcow2", reference, "raw");
        assertTrue(Files.size(q) < size / 2, "qcow2 output is not sparse: " + Files.size(q));
        assertEquals(null, BlockImages.info(q).backingFile());

        Path r = dir.resolve("out.raw");
        BlockImages.convert(q, "qcow2", r, "raw", null);
        assertArrayEquals(model, Files.readAllBytes(r));
        TestImages.assertRefused("already exists", () -> BlockImages.convert(q, "qcow2", r, "raw", null));
        TestImages.assertRefused("onto itself", () -> BlockImages.convert(q, "qcow2", q, "qcow2", null, true));
    }

    @Test
    void describeReadsLikeQemuImgInfo() throws IOException {
        Path p = dir.resolve("i.qcow2");
        BlockImages.create(p, "qcow2", 1536L << 20, null, null);
        String text = BlockImages.info(p).describe();
        assertTrue(text.contains("file format: qcow2"), text);
        assertTrue(text.contains("virtual size: 1.5 GiB (1610612736 bytes)"), text);
        assertTrue(text.contains("cluster_size: 65536"), text);
        assertEquals("1000 KiB", ImageInfo.humanSize(1000 << 10));
        assertEquals("512 B", ImageInfo.humanSize(512));
    }
}
