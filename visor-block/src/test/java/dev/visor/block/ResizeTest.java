package dev.visor.block;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Growing images: the new area reads zeros, the L1 table grows in place or moves, qemu-img agrees. */
class ResizeTest {
    @TempDir Path dir;

    @Test
    void growsAcrossL1ClusterBoundary() throws IOException {
        QemuImg.assume();
        // 512-byte clusters: one L2 table maps 32 KiB and one L1 cluster (64 entries) maps 2 MiB.
        Path image = dir.resolve("small.qcow2");
        QemuImg.createQcow2(image, "cluster_size=512", 1 << 20);
        long l1Before = TestImages.readLong(image, 40);
        byte[] model = new byte[1 << 20];
        byte[] tail = TestImages.random(new Random(1), 1000);
        try (BlockBackend disk = BlockImages.open(image, null, false)) {
            TestImages.write(disk, model.length - 1000, tail);
            System.arraycopy(tail, 0, model, model.length - 1000, 1000);

            disk.resize(2 << 20); // 64 entries: still one cluster, grows in place
            assertEquals(l1Before, TestImages.readLong(image, 40), "L1 should have grown in place");
            disk.resize(3 << 20); // 96 entries: two clusters, moves
            assertNotEquals(l1Before, TestImages.readLong(image, 40), "L1 should have moved");
            assertEquals(3 << 20, disk.size());
            model = Arrays.copyOf(model, 3 << 20);
            TestImages.assertContent(model, disk);

            byte[] data = TestImages.random(new Random(2), 100_000);
            TestImages.write(disk, (3 << 20) - 100_000, data);
            System.arraycopy(data, 0, model, (3 << 20) - 100_000, data.length);
            TestImages.assertContent(model, disk);
        }
        QemuImg.assertClean(image);
        assertEquals(Integer.toString(3 << 20), QemuImg.jsonField(QemuImg.infoJson(image), "virtual-size"));
        Path reference = dir.resolve("reference.raw");
        Files.write(reference, model);
        QemuImg.assertSameContent(image, "qcow2", reference, "raw");
    }

    @Test
    void growsDefaultImageThroughBlockImages() throws IOException {
        QemuImg.assume();
        Path image = dir.resolve("d.qcow2");
        BlockImages.create(image, "qcow2", 1 << 20, null, null);
        BlockImages.resize(image, 10L << 30);
        assertEquals(10L << 30, BlockImages.info(image).virtualSize());
        QemuImg.assertClean(image);
        try (BlockBackend disk = BlockImages.open(image, null, true)) {
            assertArrayEquals(new byte[4096], TestImages.read(disk, (10L << 30) - 4096, 4096));
        }
    }

    /** An overlay over a longer backing file: after growing, the new area must read zeros, not the backing file. */
    @ParameterizedTest(name = "-o {0}")
    @ValueSource(strings = {"compat=1.1", "compat=0.10"})
    void newAreaHidesLongerBackingFile(String options) throws IOException {
        QemuImg.assume();
        byte[] baseData = TestImages.random(new Random(3), 4 << 20);
        Files.write(dir.resolve("base.raw"), baseData);
        Path overlay = dir.resolve("ov.qcow2");
        int small = (1 << 20) + 4096; // not cluster aligned: the partial last cluster must be zeroed past it
        QemuImg.ok("create", "-q", "-f", "qcow2", "-o", options, "-b", "base.raw", "-F", "raw", overlay.toString(), Integer.toString(small));
        BlockImages.resize(overlay, 6 << 20);
        byte[] model = new byte[6 << 20];
        System.arraycopy(baseData, 0, model, 0, small);
        try (BlockBackend disk = BlockImages.open(overlay, null, true)) {
            TestImages.assertContent(model, disk);
        }
        QemuImg.assertClean(overlay);
        Path reference = dir.resolve("reference.raw");
        Files.write(reference, model);
        QemuImg.assertSameContent(overlay, "qcow2", reference, "raw");
    }

    @Test
    void rawGrowsSparselyAndRefusesShrinking() throws IOException {
        Path raw = dir.resolve("r.raw");
        BlockImages.create(raw, "raw", 1 << 20, null, null);
        byte[] data = TestImages.random(new Random(4), 512);
        try (BlockBackend disk = BlockImages.open(raw, null, false)) {
            TestImages.write(disk, 0, data);
            disk.resize(3 << 20);
            assertEquals(3 << 20, disk.size());
            assertEquals(3 << 20, Files.size(raw));
            assertArrayEquals(new byte[4096], TestImages.read(disk, (3 << 20) - 4096, 4096));
            assertArrayEquals(data, TestImages.read(disk, 0, 512));
            TestImages.assertRefused("shrinking", () -> disk.resize(1 << 20));
            TestImages.assertRefused("multiple of 512", () -> disk.resize((4 << 20) + 1));
        }
    }

    @Test
    void qcow2RefusesShrinkingAndOddSizes() throws IOException {
        Path image = dir.resolve("q.qcow2");
        BlockImages.create(image, "qcow2", 2 << 20, null, null);
        try (BlockBackend disk = BlockImages.open(image, null, false)) {
            TestImages.assertRefused("shrinking", () -> disk.resize(1 << 20));
            TestImages.assertRefused("multiple of 512", () -> disk.resize((4 << 20) + 100));
        }
        try (BlockBackend disk = BlockImages.open(image, null, true)) {
            TestImages.assertRefused("read-only", () -> disk.resize(4 << 20));
        }
    }
}
