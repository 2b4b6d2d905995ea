package dev.visor.block;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Images made by qemu-img are read and written by Visor, and qemu-img still finds them sound and equal to a raw reference. */
class QemuInteropTest {
    @TempDir Path dir;

    @ParameterizedTest(name = "-o {0}")
    @ValueSource(strings = {"compat=1.1", "compat=0.10", "compat=0.10,cluster_size=4096", "cluster_size=512", "cluster_size=2M"})
    void qemuCreatedImageIsWrittenConsistently(String options) throws IOException {
        QemuImg.assume();
        Path image = dir.resolve("disk.qcow2");
        int size = 5 * 1024 * 1024 + 512;
        QemuImg.createQcow2(image, options, size);
        byte[] model = new byte[size];
        Random r = new Random(11);
        try (BlockBackend disk = BlockImages.open(image, null, false)) {
            assertEquals("qcow2", disk.format());
            assertEquals(size, disk.size());
            assertArrayEquals(new byte[4096], TestImages.read(disk, 0, 4096), "a new image reads zeros");
            int[][] writes = {{0, 4096}, {70_001, 100_000}, {size - 512, 512}, {1 << 20, 1 << 20}, {3_000_000, 1}};
            for (int[] w : writes) {
                byte[] data = TestImages.random(r, w[1]);
                TestImages.write(disk, w[0], data);
                System.arraycopy(data, 0, model, w[0], w[1]);
            }
            disk.writeZeroes(80_000, 5_000);
            Arrays.fill(model, 80_000, 85_000, (byte) 0);
            disk.writeZeroes(1 << 20, 1 << 19);
            Arrays.fill(model, 1 << 20, (1 << 20) + (1 << 19), (byte) 0);
            disk.flush();
            TestImages.assertContent(model, disk);
        }
        QemuImg.assertClean(image);
        Path reference = dir.resolve("reference.raw");
        Files.write(reference, model);
        QemuImg.assertSameContent(image, "qcow2", reference, "raw");
    }

    /** Data qemu-img wrote (convert from raw, uncompressed) reads back the same through Visor. */
    @ParameterizedTest(name = "-o {0}")
    @ValueSource(strings = {"compat=1.1", "compat=0.10,cluster_size=512"})
    void readsWhatQemuWrote(String options) throws IOException {
        QemuImg.assume();
        Path raw = dir.resolve("src.raw");
        byte[] data = new byte[3 << 20];
        Random r = new Random(5);
        for (int off = 0; off < data.length; off += 300_000) {
            byte[] chunk = TestImages.random(r, 100_000);
            System.arraycopy(chunk, 0, data, off, Math.min(chunk.length, data.length - off));
        }
        Files.write(raw, data);
        Path image = dir.resolve("img.qcow2");
        QemuImg.ok("convert", "-O", "qcow2", "-o", options, raw.toString(), image.toString());
        try (BlockBackend disk = BlockImages.open(image, null, true)) {
            TestImages.assertContent(data, disk);
        }
    }
}
