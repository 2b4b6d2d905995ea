package dev.visor.block;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Compressed clusters written by {@code qemu-img convert -c} read back exactly, and writing over them reallocates them soundly. */
class CompressedTest {
    @TempDir Path dir;

    @ParameterizedTest(name = "-o {0}")
    @ValueSource(strings = {"compat=1.1", "compat=0.10", "cluster_size=4096", "cluster_size=512"})
    void readsAndRewritesCompressedClusters(String options) throws IOException {
        QemuImg.assume();
        byte[] data = content();
        Path raw = dir.resolve("src.raw");
        Files.write(raw, data);
        Path image = dir.resolve("c.qcow2");
        QemuImg.ok("convert", "-c", "-O", "qcow2", "-o", options, raw.toString(), image.toString());

        try (BlockBackend disk = BlockImages.open(image, null, true)) {
            TestImages.assertContent(data, disk);
            org.junit.jupiter.api.Assertions.assertArrayEquals(data, TestImages.readScattered(disk, 0, data.length, new Random(3)),
                    "the whole disk read in scattered pieces (readInto)");
        }
        try (BlockBackend disk = BlockImages.open(image, null, false)) {
            Random r = new Random(9);
            for (int i = 0; i < 40; i++) {
                int len = 1 + r.nextInt(20_000);
                int off = r.nextInt(data.length - len);
                byte[] w = TestImages.random(r, len);
                TestImages.write(disk, off, w);
                System.arraycopy(w, 0, data, off, len);
            }
            disk.writeZeroes(200_000, 150_000);
            Arrays.fill(data, 200_000, 350_000, (byte) 0);
            TestImages.assertContent(data, disk);
        }
        QemuImg.assertClean(image);
        Path reference = dir.resolve("reference.raw");
        Files.write(reference, data);
        QemuImg.assertSameContent(image, "qcow2", reference, "raw");
    }

    /** 2 MiB of compressible text, runs of zeros and a stretch of random (incompressible) bytes. */
    private static byte[] content() {
        byte[] data = new byte[2 << 20];
        byte[] text = "The quick brown fox jumps over the lazy dog; qcow2 compressed cluster test line %d\n".getBytes(StandardCharsets.US_ASCII);
        for (int off = 0, line = 0; off < data.length; off += text.length, line++) {
            byte[] l = String.format(new String(text, StandardCharsets.US_ASCII), line).getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(l, 0, data, off, Math.min(l.length, data.length - off));
        }
        Arrays.fill(data, 600_000, 800_000, (byte) 0);
        byte[] noise = TestImages.random(new Random(4), 150_000);
        System.arraycopy(noise, 0, data, 1_200_000, noise.length);
        return data;
    }
}
