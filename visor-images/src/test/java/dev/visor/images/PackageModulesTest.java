package dev.visor.images;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tukaani.xz.LZMA2Options;
import org.tukaani.xz.XZOutputStream;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PackageModulesTest {
    private static final String ROOT = "usr/lib/modules/6.12.1-riscv64/";

    @TempDir
    Path spool;

    private static byte[] xz(byte[] data) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (XZOutputStream xz = new XZOutputStream(out, new LZMA2Options())) {
            xz.write(data);
        }
        return out.toByteArray();
    }

    private static boolean accept(PackageModules modules, String path, byte[] content) throws IOException {
        return modules.accept(path, new ByteArrayInputStream(content));
    }

    @Test
    void resolvesFromModinfoWhenThePackageHasNoModulesDep() throws IOException {
        PackageModules modules = new PackageModules(spool);
        byte[] ext4 = KernelModulesTest.moduleWithModinfo("depends=jbd2,crc16", "name=ext4");
        byte[] jbd2 = KernelModulesTest.moduleWithModinfo("depends=", "name=jbd2");
        byte[] rng = KernelModulesTest.moduleWithModinfo("depends=", "name=virtio_rng");
        assertTrue(accept(modules, ROOT + "kernel/fs/ext4/ext4.ko.xz", xz(ext4)));
        assertTrue(accept(modules, ROOT + "kernel/fs/jbd2/jbd2.ko.xz", xz(jbd2)));
        assertTrue(accept(modules, ROOT + "kernel/drivers/char/hw_random/virtio-rng.ko.xz", xz(rng)));
        assertTrue(accept(modules, ROOT + "modules.builtin", "kernel/lib/crc16.ko\n".getBytes(StandardCharsets.UTF_8)));
        assertFalse(accept(modules, "boot/config-6.12.1-riscv64", new byte[] {1}));

        List<PackageModules.Module> order = modules.resolve(List.of("virtio_rng", "ext4"));

        assertEquals(List.of("virtio-rng", "jbd2", "ext4"), order.stream().map(PackageModules.Module::stem).toList());
        assertArrayEquals(ext4, order.get(2).ko());
        assertTrue(modules.isBuiltin("crc16"));
        assertEquals(".modinfo depends=", modules.dependencySource());
        assertEquals(Set.of("6.12.1-riscv64"), modules.versions());
    }

    @Test
    void prefersTheModulesDepOfThePackage() throws IOException {
        PackageModules modules = new PackageModules(spool);
        // .modinfo says nothing here; modules.dep is what counts when there is one.
        accept(modules, ROOT + "kernel/fs/ext4/ext4.ko", KernelModulesTest.moduleWithModinfo("depends="));
        accept(modules, ROOT + "kernel/fs/mbcache.ko", KernelModulesTest.moduleWithModinfo("depends="));
        assertTrue(accept(modules, ROOT + "modules.dep",
                "kernel/fs/ext4/ext4.ko: kernel/fs/mbcache.ko\nkernel/fs/mbcache.ko:\n".getBytes(StandardCharsets.UTF_8)));

        assertEquals(List.of("mbcache", "ext4"),
                modules.resolve(List.of("ext4")).stream().map(PackageModules.Module::stem).toList());
        assertEquals("modules.dep", modules.dependencySource());
    }
}
