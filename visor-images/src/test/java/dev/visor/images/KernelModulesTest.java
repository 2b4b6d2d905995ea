package dev.visor.images;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KernelModulesTest {
    private static final String KERNEL = "usr/lib/modules/6.12.117+deb13-riscv64/kernel/";

    /**
     * modules.dep as depmod would write it for Debian's 6.12 riscv64 kernel (the wanted modules'
     * lines, made from each module's .modinfo depends=, since the package ships no modules.dep),
     * plus unrelated lines. depmod lists dependencies so that modprobe loads them from the last
     * one back: the order must come from the graph, not from the line.
     */
    private static final String MODULES_DEP = """
            kernel/drivers/virtio/virtio_mmio.ko.xz:
            kernel/drivers/block/virtio_blk.ko.xz:
            kernel/net/core/failover.ko.xz:
            kernel/drivers/net/net_failover.ko.xz: kernel/net/core/failover.ko.xz
            kernel/drivers/net/virtio_net.ko.xz: kernel/drivers/net/net_failover.ko.xz kernel/net/core/failover.ko.xz
            kernel/drivers/char/hw_random/virtio-rng.ko.xz:
            kernel/drivers/virtio/virtio_balloon.ko.xz:
            kernel/crypto/crc32c_generic.ko.xz:
            kernel/lib/crc16.ko.xz:
            kernel/fs/mbcache.ko.xz:
            kernel/fs/jbd2/jbd2.ko.xz:
            kernel/fs/ext4/ext4.ko.xz: kernel/fs/jbd2/jbd2.ko.xz kernel/fs/mbcache.ko.xz kernel/lib/crc16.ko.xz
            kernel/drivers/scsi/virtio_scsi.ko.xz: kernel/drivers/scsi/scsi_mod.ko.xz
            kernel/drivers/scsi/scsi_mod.ko.xz: kernel/drivers/scsi/scsi_common.ko.xz
            kernel/drivers/scsi/scsi_common.ko.xz:
            """;

    private static KernelModules.Dependencies from(Map<String, List<String>> deps) {
        return module -> Optional.ofNullable(deps.get(module));
    }

    @Test
    void findsModulesWhereverTheyAre() {
        assertEquals(Optional.of("virtio_mmio"), KernelModules.moduleStem(KERNEL + "drivers/virtio/virtio_mmio.ko.xz"));
        assertEquals(Optional.of("virtio-rng"), KernelModules.moduleStem(KERNEL + "drivers/char/hw_random/virtio-rng.ko.xz"));
        assertEquals(Optional.of("ext4"), KernelModules.moduleStem(KERNEL + "fs/ext4/ext4.ko.xz"));
        assertEquals(Optional.of("virtio_blk"), KernelModules.moduleStem("lib/modules/6.1.0/kernel/drivers/block/virtio_blk.ko"));
    }

    @Test
    void ignoresWhatIsNoModule() {
        assertEquals(Optional.empty(), KernelModules.moduleStem(KERNEL + "drivers/net/net_failover.ko.zst"));
        assertEquals(Optional.empty(), KernelModules.moduleStem("boot/virtio_mmio.ko"));
        assertEquals(Optional.empty(), KernelModules.moduleStem("usr/lib/modules/6.12/modules.dep"));
    }

    @Test
    void dashesAndUnderscoresAreTheSameName() {
        assertEquals("virtio_rng", KernelModules.canonical("virtio-rng"));
    }

    @Test
    void readsTheKernelVersionFromTheModulePath() {
        assertEquals(Optional.of("6.12.117+deb13-riscv64"), KernelModules.versionOf(KERNEL + "net/core/failover.ko.xz"));
        assertEquals(Optional.empty(), KernelModules.versionOf("boot/vmlinux-6.12"));
    }

    @Test
    void parsesModulesDep() {
        Map<String, List<String>> deps = KernelModules.parseModulesDep(MODULES_DEP);
        assertEquals(List.of("jbd2", "mbcache", "crc16"), deps.get("ext4"));
        assertEquals(List.of(), deps.get("virtio_rng"));
        assertEquals(List.of("net_failover", "failover"), deps.get("virtio_net"));
    }

    @Test
    void ordersTheWantedModulesAndTheirDependenciesDependenciesFirst() throws IOException {
        Map<String, List<String>> deps = KernelModules.parseModulesDep(MODULES_DEP);
        List<String> order = KernelModules.loadOrder(KernelModules.WANTED, from(deps));

        assertEquals(List.of("virtio_mmio", "virtio_blk", "failover", "net_failover", "virtio_net", "virtio_rng",
                "virtio_balloon", "crc32c_generic", "jbd2", "mbcache", "crc16", "ext4"), order);
        // virtio_console is built into this kernel: not in modules.dep, so not loaded, and no error.
        assertEquals(List.of("virtio_console"), KernelModules.missing(KernelModules.WANTED, order));
        for (String module : order) {
            for (String dep : deps.get(module)) {
                assertTrue(order.indexOf(dep) < order.indexOf(module), dep + " before " + module);
            }
        }
    }

    @Test
    void followsDependenciesTransitivelyAndLoadsEachOnce() throws IOException {
        Map<String, List<String>> deps = Map.of(
                "a", List.of("b", "c"), "b", List.of("d"), "c", List.of("d"), "d", List.of(), "e", List.of("d"));
        assertEquals(List.of("d", "b", "c", "a", "e"), KernelModules.loadOrder(List.of("a", "e", "d"), from(deps)));
    }

    @Test
    void skipsBuiltInDependencies() throws IOException {
        // b is built in (unknown to the source); a still loads, after its other dependency.
        Map<String, List<String>> deps = Map.of("a", List.of("b", "c"), "c", List.of());
        assertEquals(List.of("c", "a"), KernelModules.loadOrder(List.of("a"), from(deps)));
    }

    @Test
    void refusesACycle() {
        Map<String, List<String>> deps = Map.of("a", List.of("b"), "b", List.of("c"), "c", List.of("a"));
        ImageException e = assertThrows(ImageException.class, () -> KernelModules.loadOrder(List.of("a"), from(deps)));
        assertEquals("kernel modules depend on each other in a cycle: a -> b -> c -> a", e.getMessage());
    }

    @Test
    void readsDependsFromModinfo() throws ImageException {
        byte[] ext4 = moduleWithModinfo("softdep=pre: crypto-crc32c", "depends=jbd2,mbcache,crc16", "name=ext4");
        assertEquals(List.of("jbd2", "mbcache", "crc16"), KernelModules.modinfoDepends(ext4));
        assertEquals(List.of(), KernelModules.modinfoDepends(moduleWithModinfo("depends=", "name=crc16")));
        assertEquals(List.of("virtio_rng"), KernelModules.modinfoDepends(moduleWithModinfo("depends=virtio-rng")));
        assertThrows(ImageException.class, () -> KernelModules.modinfoDepends(moduleWithModinfo()));
    }

    /**
     * A minimal 64-bit little-endian ELF with a null section, {@code .modinfo} (if entries are
     * given) and {@code .shstrtab}: what {@link Elf#section} reads of a real module.
     */
    static byte[] moduleWithModinfo(String... entries) {
        ByteArrayOutputStream modinfo = new ByteArrayOutputStream();
        for (String entry : entries) modinfo.writeBytes((entry + "\0").getBytes(StandardCharsets.US_ASCII));
        byte[] names = "\0.modinfo\0.shstrtab\0".getBytes(StandardCharsets.US_ASCII);
        byte[] info = modinfo.toByteArray();
        int infoAt = 0x40;
        int namesAt = infoAt + info.length;
        int shoff = (namesAt + names.length + 7) & ~7;
        List<int[]> sections = new ArrayList<>(); // name offset, data offset, size
        sections.add(new int[] {0, 0, 0});
        if (entries.length > 0) sections.add(new int[] {1, infoAt, info.length});
        sections.add(new int[] {10, namesAt, names.length});
        ByteBuffer elf = ByteBuffer.allocate(shoff + sections.size() * 0x40).order(ByteOrder.LITTLE_ENDIAN);
        elf.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1});
        elf.putShort(0x10, (short) 1).putShort(0x12, (short) Elf.EM_RISCV).putLong(0x28, shoff)
                .putShort(0x3a, (short) 0x40).putShort(0x3c, (short) sections.size())
                .putShort(0x3e, (short) (sections.size() - 1));
        elf.put(infoAt, info).put(namesAt, names);
        for (int i = 0; i < sections.size(); i++) {
            int header = shoff + i * 0x40;
            elf.putInt(header, sections.get(i)[0]).putLong(header + 0x18, sections.get(i)[1])
                    .putLong(header + 0x20, sections.get(i)[2]);
        }
        return elf.array();
    }
}
