package dev.visor.block;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Random operations against a reference model, judged afterwards by {@code qemu-img check} and {@code compare}. */
class RandomOpsTest {
    @TempDir Path dir;

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = ';', value = {
        "v3 64k;            compat=1.1;                            65536; false",
        "v2 64k;            compat=0.10;                           65536; false",
        "v3 512 refcount64; cluster_size=512,refcount_bits=64;     512;   false",
        "v3 4k refcount1;   cluster_size=4096,refcount_bits=1;     4096;  false",
        "v3 64k on backing; compat=1.1;                            65536; true",
        "v2 4k on backing;  compat=0.10,cluster_size=4096;         4096;  true",
        "v3 2M clusters;    cluster_size=2M;                       2097152; false",
    })
    void randomOperationsMatchTheModel(String label, String options, int cluster, boolean withBacking) throws IOException {
        QemuImg.assume();
        int size = 3 * 1024 * 1024 + 1536; // not a whole number of clusters: the last one is cut short
        Path image = dir.resolve("disk.qcow2");
        byte[] initial = new byte[size];
        if (withBacking) {
            Path base = dir.resolve("base.raw");
            byte[] baseData = TestImages.random(new Random(1), size - 4096); // shorter than the overlay: the tail reads zeros
            Files.write(base, baseData);
            System.arraycopy(baseData, 0, initial, 0, baseData.length);
            QemuImg.ok("create", "-q", "-f", "qcow2", "-o", options, "-b", "base.raw", "-F", "raw", image.toString(), Integer.toString(size));
        } else {
            QemuImg.createQcow2(image, options, size);
        }
        String baseHash = withBacking ? TestImages.sha256(dir.resolve("base.raw")) : null;

        RandomOps ops;
        try (BlockBackend disk = BlockImages.open(image, null, false)) {
            ops = new RandomOps(disk, initial, 42, cluster);
            ops.run(cluster >= 1 << 20 ? 120 : 300);
            disk.flush();
        }
        QemuImg.assertClean(image);
        Path reference = dir.resolve("reference.raw");
        Files.write(reference, ops.model);
        QemuImg.assertSameContent(image, "qcow2", reference, "raw");
        if (withBacking) assertTrue(baseHash.equals(TestImages.sha256(dir.resolve("base.raw"))), "backing file changed");
        try (BlockBackend disk = BlockImages.open(image, null, true)) {
            TestImages.assertContent(ops.model, disk);
        }
    }

    /** Enough data on 512-byte clusters with 64-bit refcounts that the refcount table must move to grow. */
    @Test
    void refcountTableGrows() throws IOException {
        QemuImg.assume();
        Path image = dir.resolve("grow.qcow2");
        int size = 4 << 20;
        QemuImg.createQcow2(image, "cluster_size=512,refcount_bits=64", size);
        byte[] model = new byte[size];
        Random r = new Random(3);
        try (BlockBackend disk = BlockImages.open(image, "qcow2", false)) {
            for (int off = 0; off < size; off += 64 << 10) {
                byte[] data = TestImages.random(r, 60 << 10); // leave gaps, so not every cluster is allocated
                TestImages.write(disk, off + 1000, data);
                System.arraycopy(data, 0, model, off + 1000, data.length);
            }
            assertArrayEquals(model, TestImages.readAll(disk));
        }
        long tableClusters = TestImages.readLong(image, 56) >>> 32;
        assertTrue(tableClusters > 1, "refcount table still has " + tableClusters + " cluster(s)");
        QemuImg.assertClean(image);
        Path reference = dir.resolve("reference.raw");
        Files.write(reference, model);
        QemuImg.assertSameContent(image, "qcow2", reference, "raw");
    }
}
