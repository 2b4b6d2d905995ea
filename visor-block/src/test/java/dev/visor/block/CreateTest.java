package dev.visor.block;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Images from {@link BlockImages#create} are what qemu-img expects, and {@link BlockImages#info} agrees with it. */
class CreateTest {
    @TempDir Path dir;

    @Test
    void createdQcow2PassesCheckAndInfoAgrees() throws IOException {
        QemuImg.assume();
        Path image = dir.resolve("new.qcow2");
        BlockImages.create(image, "qcow2", 1L << 30, null, null);
        QemuImg.assertClean(image);
        String json = QemuImg.infoJson(image);
        assertEquals("qcow2", QemuImg.jsonField(json, "format"));
        assertEquals("1073741824", QemuImg.jsonField(json, "virtual-size"));
        assertEquals("65536", QemuImg.jsonField(json, "cluster-size"));
        assertEquals("1.1", QemuImg.jsonField(json, "compat"));
        assertNull(QemuImg.jsonField(json, "backing-filename"));

        ImageInfo info = BlockImages.info(image);
        assertEquals(new ImageInfo(image, "qcow2", 1L << 30, Files.size(image), 65536, 3, null, null), info);
        assertTrue(info.describe().contains("virtual size: 1 GiB (1073741824 bytes)"), info.describe());

        // Written by Visor, still sound.
        byte[] data = TestImages.random(new Random(1), 300_000);
        try (BlockBackend disk = BlockImages.open(image, null, false)) {
            TestImages.write(disk, 12345, data);
            assertArrayEquals(data, TestImages.read(disk, 12345, data.length));
        }
        QemuImg.assertClean(image);
    }

    @Test
    void overlayWithRelativeBackingTakesItsSize() throws IOException {
        QemuImg.assume();
        Path base = dir.resolve("base.raw");
        BlockImages.create(base, "raw", 8 << 20, null, null);
        assertEquals(8 << 20, Files.size(base));
        byte[] baseData = TestImages.random(new Random(2), 8 << 20);
        Files.write(base, baseData);

        Path overlay = dir.resolve("overlay.qcow2");
        BlockImages.create(overlay, "qcow2", -1, Path.of("base.raw"), null);
        QemuImg.assertClean(overlay);
        String json = QemuImg.infoJson(overlay);
        assertEquals("8388608", QemuImg.jsonField(json, "virtual-size"));
        assertEquals("base.raw", QemuImg.jsonField(json, "backing-filename"));
        assertEquals("raw", QemuImg.jsonField(json, "backing-filename-format"));
        assertEquals(base.toString(), QemuImg.jsonField(json, "full-backing-filename"));
        ImageInfo info = BlockImages.info(overlay);
        assertEquals("base.raw", info.backingFile());
        assertEquals("raw", info.backingFormat());
        assertTrue(info.describe().contains("backing file: base.raw"));

        try (BlockBackend disk = BlockImages.open(overlay, "qcow2", false)) {
            TestImages.assertContent(baseData, disk);
            byte[] data = TestImages.random(new Random(3), 5000);
            TestImages.write(disk, 65536 - 100, data);
            System.arraycopy(data, 0, baseData, 65536 - 100, data.length);
        }
        QemuImg.assertClean(overlay);
        Path reference = dir.resolve("reference.raw");
        Files.write(reference, baseData);
        QemuImg.assertSameContent(overlay, "qcow2", reference, "raw");
    }

    @Test
    void refusesToOverwriteUnlessAsked() throws IOException {
        Path image = dir.resolve("a.qcow2");
        BlockImages.create(image, "qcow2", 1 << 20, null, null);
        TestImages.assertRefused("already exists", () -> BlockImages.create(image, "qcow2", 2 << 20, null, null));
        assertEquals(1 << 20, BlockImages.info(image).virtualSize());
        BlockImages.create(image, "qcow2", 2 << 20, null, null, true);
        assertEquals(2 << 20, BlockImages.info(image).virtualSize());
    }

    @Test
    void refusesBadArguments() {
        TestImages.assertRefused("size is needed", () -> BlockImages.create(dir.resolve("x.qcow2"), "qcow2", -1, null, null));
        TestImages.assertRefused("unknown image format", () -> BlockImages.create(dir.resolve("x.vmdk"), "vmdk", 1 << 20, null, null));
        TestImages.assertRefused("no such file", () -> BlockImages.create(dir.resolve("x.qcow2"), "qcow2", 1 << 20, Path.of("missing.raw"), null));
        TestImages.assertRefused("cannot have a backing file", () -> BlockImages.create(dir.resolve("x.raw"), "raw", 1 << 20, Path.of("y"), null));
    }

    @Test
    void sizeIsRoundedUpToSectors() throws IOException {
        Path image = dir.resolve("odd.qcow2");
        BlockImages.create(image, "qcow2", 1000, null, null);
        assertEquals(1024, BlockImages.info(image).virtualSize());
        Path raw = dir.resolve("odd.raw");
        BlockImages.create(raw, "raw", 1000, null, null);
        assertEquals(1024, Files.size(raw));
    }
}
