package dev.visor.images;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The store's bookkeeping, without network: what counts as cached. */
class ImageStoreTest {
    @TempDir
    Path cache;

    private Path fakeImage(String version) throws IOException {
        Path dir = Files.createDirectories(cache.resolve("images/default/modules"));
        Path image = dir.getParent();
        for (String f : new String[] {"Image", "initrd.gz", "fw_jump.bin", "fw_dynamic.bin"}) {
            Files.write(image.resolve(f), new byte[] {1});
        }
        Files.writeString(image.resolve("VERSION"), version);
        return image;
    }

    @Test
    void emptyCacheHasNoImage() throws ImageException {
        ImageStore store = new ImageStore(cache);
        assertEquals(Optional.empty(), store.cached());
        assertEquals(cache.resolve("images/default").toAbsolutePath(), store.defaultImageDirectory());
    }

    @Test
    void completeImageOfThisLayoutIsCached() throws IOException {
        Path dir = fakeImage("6.12.1-riscv64\nlayout " + ImageStore.LAYOUT + "\n");
        GuestImage image = new ImageStore(cache).cached().orElseThrow();
        assertEquals(dir.resolve("Image").toAbsolutePath(), image.kernel());
        assertEquals(dir.resolve("initrd.gz").toAbsolutePath(), image.initrd());
        assertEquals(dir.resolve("fw_jump.bin").toAbsolutePath(), image.firmware());
        assertEquals(dir.resolve("fw_dynamic.bin").toAbsolutePath(), image.dynamicFirmware());
        assertEquals("6.12.1-riscv64", image.kernelVersion());
    }

    @Test
    void otherLayoutsAndIncompleteImagesAreNotCached() throws IOException {
        Path dir = fakeImage("6.12.1-riscv64\nlayout 0\n");
        assertTrue(new ImageStore(cache).cached().isEmpty());

        Files.writeString(dir.resolve("VERSION"), "6.12.1-riscv64\nlayout " + ImageStore.LAYOUT + "\n");
        Files.delete(dir.resolve("fw_dynamic.bin"));
        assertTrue(new ImageStore(cache).cached().isEmpty());
    }

    @Test
    void pullWithoutForceKeepsACachedImage() throws IOException {
        fakeImage("6.12.1-riscv64\nlayout " + ImageStore.LAYOUT + "\n");
        ImageStore store = new ImageStore(cache);
        // No network involved: the cached image is returned as it is.
        assertEquals(store.cached().orElseThrow(), store.pull(System.err, false));
        assertEquals(store.cached().orElseThrow(), store.defaultImage(System.err));
    }

    @Test
    void aFailedPullLeavesNothingBehind() throws IOException {
        ImageStore store = new ImageStore(cache, Optional.of(java.net.URI.create("file:/nonexistent/visor-test/debian/")));
        assertThrows(ImageException.class, () -> store.pull(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()), true));
        try (var left = Files.list(cache.resolve("images"))) {
            assertEquals(java.util.List.of(".lock"), left.map(p -> p.getFileName().toString()).toList());
        }
    }

    @Test
    void theKernelMagicIsChecked() throws IOException {
        Path notImage = Files.write(cache.resolve("vmlinux"), new byte[0x40]);
        ImageException e = assertThrows(ImageException.class, () -> ImageAssembler.checkImageMagic(notImage, "vmlinux"));
        assertTrue(e.getMessage().contains("not a RISC-V Image"));
        Path tooShort = Files.write(cache.resolve("short"), new byte[0x20]);
        assertThrows(ImageException.class, () -> ImageAssembler.checkImageMagic(tooShort, "short"));
    }
}
