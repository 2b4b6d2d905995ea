package dev.visor.images;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.DisabledIfEnvironmentVariable;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Pulls the real default image from Debian's archive through the host's apt (about 115 MB) into
 * a temporary cache. Set VISOR_OFFLINE to skip it on a machine without network.
 */
@Tag("network")
@DisabledIfEnvironmentVariable(named = "VISOR_OFFLINE", matches = ".+")
class ImageStoreIntegrationTest {

    @Test
    void pullsABootableDefaultImage(@TempDir Path cache) throws Exception {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        ImageStore store = new ImageStore(cache);
        assertTrue(store.cached().isEmpty());

        GuestImage image = store.defaultImage(tee(log));

        // The kernel is a RISC-V Image: "RSC\x05" at 0x38 ("RISCV" at 0x30).
        byte[] head = new byte[0x40];
        try (InputStream in = Files.newInputStream(image.kernel())) {
            assertEquals(head.length, in.readNBytes(head, 0, head.length));
        }
        assertArrayEquals(new byte[] {'R', 'S', 'C', 5}, Arrays.copyOfRange(head, 0x38, 0x3c));
        assertTrue(Files.size(image.kernel()) > 10_000_000, "kernel size " + Files.size(image.kernel()));
        assertTrue(image.kernelVersion().endsWith("-riscv64"), image.kernelVersion());
        assertEquals(image.kernelVersion(), Files.readAllLines(image.directory().resolve("VERSION")).getFirst());

        Map<String, TestArchives.Entry> initrd = TestArchives.readGzipCpio(Files.readAllBytes(image.initrd()));
        assertTrue(initrd.containsKey("init"));
        assertTrue(initrd.containsKey("lib/modules/virtio_mmio.ko"));
        byte[] busybox = initrd.get("bin/busybox").content();
        assertEquals(0x7f, busybox[0]);
        assertEquals("ELF", new String(busybox, 1, 3, StandardCharsets.US_ASCII));
        assertEquals(243, (busybox[18] & 0xff) | (busybox[19] & 0xff) << 8, "e_machine");
        assertTrue(Elf.isElf(initrd.get("lib/modules/virtio_mmio.ko").content()), "modules are decompressed");
        // ext4 and what it needs, resolved from the package's own dependency data, dependencies first.
        String init = new String(initrd.get("init").content(), StandardCharsets.UTF_8);
        for (String module : new String[] {"ext4", "jbd2", "mbcache", "crc32c_generic", "failover", "net_failover"}) {
            assertTrue(initrd.containsKey("lib/modules/" + module + ".ko"), module);
        }
        assertTrue(init.indexOf(" jbd2 ") < init.indexOf(" ext4;"), init);
        assertTrue(init.indexOf(" failover ") < init.indexOf(" net_failover ") && init.indexOf(" net_failover ") < init.indexOf(" virtio_net "), init);

        assertTrue(Files.size(image.firmware()) > 100_000);
        assertTrue(Files.isRegularFile(image.dynamicFirmware()));
        assertTrue(Files.isRegularFile(image.modulesDirectory().resolve("virtio_mmio.ko")));
        assertTrue(log.toString(StandardCharsets.UTF_8).contains("Get:"), "apt's progress is passed on");

        // Cached now: no second download, same files.
        assertEquals(image, store.defaultImage(new PrintStream(PrintStream.nullOutputStream())));
        assertEquals(image, store.cached().orElseThrow());

        // A forced pull rebuilds everything; the initramfs comes out byte for byte the same.
        byte[] firstInitrd = Files.readAllBytes(image.initrd());
        GuestImage again = store.pull(new PrintStream(PrintStream.nullOutputStream()), true);
        assertArrayEquals(firstInitrd, Files.readAllBytes(again.initrd()));
        try (var left = Files.list(cache.resolve("images"))) {
            assertFalse(left.anyMatch(p -> p.getFileName().toString().startsWith(".pull-")), "no work dirs left");
        }
    }

    /** Progress goes to the test's output too, so a slow or failing pull can be followed. */
    private static PrintStream tee(ByteArrayOutputStream copy) {
        return new PrintStream(new java.io.OutputStream() {
            @Override
            public void write(int b) {
                copy.write(b);
                System.err.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                copy.write(b, off, len);
                System.err.write(b, off, len);
            }
        }, true, StandardCharsets.UTF_8);
    }
}
