package dev.visor.block;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Broken or unsupported images are refused with one-line messages, never with OutOfMemoryError or index errors. */
class CorruptImageTest {
    @TempDir Path dir;

    /** A fresh 4 MiB qcow2 v3 image made by Visor (no qemu-img needed). */
    private Path image(String name) throws IOException {
        Path p = dir.resolve(name);
        BlockImages.create(p, "qcow2", 4 << 20, null, null);
        return p;
    }

    /** Both opening and info must refuse (info only for structural problems). */
    private static void assertOpenRefused(Path p, String fragment) {
        String m = TestImages.assertRefused(fragment, () -> BlockImages.open(p, null, true).close());
        assertTrue(m.contains(p.getFileName().toString()), () -> "message does not name the file: " + m);
        TestImages.assertRefused(fragment, () -> BlockImages.open(p, null, false).close());
    }

    @Test
    void badMagicWhenQcow2IsClaimed() throws IOException {
        Path p = dir.resolve("fake.qcow2");
        Files.write(p, TestImages.random(new Random(1), 4096));
        TestImages.assertRefused("bad magic", () -> BlockImages.open(p, "qcow2", true).close());
    }

    @Test
    void truncatedHeaders() throws IOException {
        Path v2 = image("v2.qcow2");
        try (FileChannel ch = FileChannel.open(v2, StandardOpenOption.WRITE)) { ch.truncate(50); }
        TestImages.assertRefused("truncated", () -> BlockImages.open(v2, "qcow2", true).close());
        TestImages.assertRefused("truncated", () -> BlockImages.info(v2));
        Path v3 = image("v3.qcow2");
        try (FileChannel ch = FileChannel.open(v3, StandardOpenOption.WRITE)) { ch.truncate(90); }
        assertOpenRefused(v3, "truncated");
    }

    @Test
    void l1TablePastEndOfFile() throws IOException {
        Path p = image("l1.qcow2");
        TestImages.patchLong(p, 40, 1L << 40);
        assertOpenRefused(p, "L1 table lies past the end of the file");
        TestImages.assertRefused("L1 table lies past the end of the file", () -> BlockImages.info(p));
    }

    @Test
    void hugeL1Size() throws IOException {
        Path p = image("hugel1.qcow2");
        TestImages.patchInt(p, 36, 0x7fffffff);
        assertOpenRefused(p, "L1 table is too large");
        TestImages.patchInt(p, 36, -1);
        assertOpenRefused(p, "L1 table is too large");
    }

    @Test
    void refcountTablePastEndOfFile() throws IOException {
        Path p = image("rt.qcow2");
        TestImages.patchLong(p, 48, 1L << 40);
        assertOpenRefused(p, "refcount table lies past the end of the file");
        Path q = image("rt2.qcow2");
        TestImages.patchInt(q, 56, 1 << 30);
        assertOpenRefused(q, "refcount table is too large");
    }

    @Test
    void refusedFeatures() throws IOException {
        Path unknown = image("unknown.qcow2");
        TestImages.patchLong(unknown, 72, 1L << 5);
        assertOpenRefused(unknown, "unknown incompatible qcow2 feature bit 5");
        Path dirty = image("dirty.qcow2");
        TestImages.patchLong(dirty, 72, 1);
        assertOpenRefused(dirty, "dirty");
        Path dataFile = image("datafile.qcow2");
        TestImages.patchLong(dataFile, 72, 1L << 2);
        assertOpenRefused(dataFile, "external data file");
        Path zstd = image("zstd.qcow2");
        TestImages.patchLong(zstd, 72, 1L << 3);
        TestImages.patch(zstd, 104, java.nio.ByteBuffer.wrap(new byte[] {1}));
        assertOpenRefused(zstd, "zstd");
        Path encrypted = image("enc.qcow2");
        TestImages.patchInt(encrypted, 32, 1);
        assertOpenRefused(encrypted, "encrypted");
        Path clusterBits = image("cb.qcow2");
        TestImages.patchInt(clusterBits, 20, 30);
        assertOpenRefused(clusterBits, "cluster_bits");
        Path version = image("ver.qcow2");
        TestImages.patchInt(version, 4, 4);
        assertOpenRefused(version, "version 4");
    }

    @Test
    void corruptBitAllowsOnlyReading() throws IOException {
        Path p = image("corrupt.qcow2");
        TestImages.patchLong(p, 72, 1L << 1);
        BlockImages.open(p, null, true).close();
        TestImages.assertRefused("marked corrupt", () -> BlockImages.open(p, null, false).close());
    }

    @Test
    void l2TablePastEndOfFileIsReportedOnUse() throws IOException {
        Path p = image("l2.qcow2");
        long l1 = TestImages.readLong(p, 40);
        TestImages.patchLong(p, l1, (1L << 40) | (1L << 63));
        try (BlockBackend disk = BlockImages.open(p, null, false)) {
            TestImages.assertRefused("L2 table", () -> TestImages.read(disk, 0, 512));
            TestImages.assertRefused("L2 table", () -> TestImages.write(disk, 0, new byte[512]));
        }
    }

    @Test
    void backingLoop() throws IOException {
        QemuImg.assume();
        Path a = dir.resolve("a.qcow2");
        Path b = dir.resolve("b.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-u", "-b", "b.qcow2", "-F", "qcow2", a.toString(), "1M");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-u", "-b", "a.qcow2", "-F", "qcow2", b.toString(), "1M");
        TestImages.assertRefused("backing file loop", () -> BlockImages.open(a, null, true).close());
        // Into itself.
        Path c = dir.resolve("c.qcow2");
        QemuImg.ok("create", "-q", "-f", "qcow2", "-u", "-b", "c.qcow2", "-F", "qcow2", c.toString(), "1M");
        TestImages.assertRefused("backing file loop", () -> BlockImages.open(c, null, false).close());
    }

    @Test
    void missingFilesAndFormats() throws IOException {
        TestImages.assertRefused("no such file", () -> BlockImages.open(dir.resolve("none.qcow2"), null, true));
        Path p = image("x.qcow2");
        TestImages.assertRefused("unknown image format 'vdi'", () -> BlockImages.open(p, "vdi", true));
        Path overlay = dir.resolve("ov.qcow2");
        BlockImages.create(overlay, "qcow2", -1, p.getFileName(), null);
        Files.delete(p);
        TestImages.assertRefused("does not exist", () -> BlockImages.open(overlay, null, true));
    }

    @Test
    void refcountOverflowIsRefused() throws IOException {
        QemuImg.assume();
        // 1-bit refcounts: every used cluster is already at the maximum.
        Path p = dir.resolve("rc1.qcow2");
        QemuImg.createQcow2(p, "refcount_bits=1", 1 << 20);
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            Qcow2Header h = Qcow2Header.read(ch, p.toString());
            RefcountTable refcounts = RefcountTable.load(ch, h);
            TestImages.assertRefused("overflow", () -> refcounts.adjust(0, 1));
            TestImages.assertRefused("below zero", () -> refcounts.adjust(refcounts.end() >>> h.clusterBits, -1));
        }
        QemuImg.assertClean(p);
    }

    @Test
    void garbageNeverEscapesAsAnotherException() throws IOException {
        // Random bytes behind a valid magic and version: whatever happens must be a BlockException.
        Random r = new Random(99);
        for (int i = 0; i < 200; i++) {
            Path p = dir.resolve("g" + i + ".qcow2");
            byte[] b = TestImages.random(r, 512 + r.nextInt(8192));
            java.nio.ByteBuffer.wrap(b).putInt(0, Qcow2Header.MAGIC).putInt(4, 2 + r.nextInt(2)).putInt(20, 9 + r.nextInt(4));
            Files.write(p, b);
            try (BlockBackend disk = BlockImages.open(p, "qcow2", true)) {
                TestImages.readAll(disk);
            } catch (BlockException expected) {
                assertTrue(!expected.getMessage().contains("\n"));
            }
        }
    }
}
