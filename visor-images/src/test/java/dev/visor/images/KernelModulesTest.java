package dev.visor.images;

import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;

class KernelModulesTest {
    private static final String KERNEL = "usr/lib/modules/6.12.117+deb13-riscv64/kernel/";

    @Test
    void findsTheVirtioModulesWhereverTheyAre() {
        assertEquals(Optional.of("virtio_mmio"), KernelModules.virtioModule(KERNEL + "drivers/virtio/virtio_mmio.ko.xz"));
        assertEquals(Optional.of("failover"), KernelModules.virtioModule(KERNEL + "net/core/failover.ko.xz"));
        assertEquals(Optional.of("virtio-rng"), KernelModules.virtioModule(KERNEL + "drivers/char/hw_random/virtio-rng.ko.xz"));
        assertEquals(Optional.of("virtio-rng"), KernelModules.virtioModule(KERNEL + "drivers/char/hw_random/virtio_rng.ko"));
        assertEquals(Optional.of("virtio_blk"), KernelModules.virtioModule("lib/modules/6.1.0/kernel/drivers/block/virtio_blk.ko"));
    }

    @Test
    void ignoresEverythingElse() {
        assertEquals(Optional.empty(), KernelModules.virtioModule(KERNEL + "drivers/virtio/virtio_input.ko.xz"));
        assertEquals(Optional.empty(), KernelModules.virtioModule(KERNEL + "drivers/net/net_failover.ko.zst"));
        assertEquals(Optional.empty(), KernelModules.virtioModule("boot/virtio_mmio.ko"));
        assertEquals(Optional.empty(), KernelModules.virtioModule(KERNEL + "drivers/net/xnet_failover.ko.xz"));
    }

    @Test
    void readsTheKernelVersionFromTheModulePath() {
        assertEquals(Optional.of("6.12.117+deb13-riscv64"), KernelModules.versionOf(KERNEL + "net/core/failover.ko.xz"));
        assertEquals(Optional.empty(), KernelModules.versionOf("boot/vmlinux-6.12"));
    }
}
