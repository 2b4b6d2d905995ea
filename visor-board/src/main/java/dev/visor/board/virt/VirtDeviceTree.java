package dev.visor.board.virt;

/**
 * Generates the flattened device tree for a {@link VirtBoard} from {@link VirtMemoryMap}, describing
 * exactly the parts that exist, in the layout OpenSBI's generic platform and Linux expect.
 */
final class VirtDeviceTree {
    private static final java.security.SecureRandom SEEDS = new java.security.SecureRandom();

    private VirtDeviceTree() {}

    record Params(int harts, long ramSize, String mmuType, String bootargs, long initrdStart, long initrdEnd) {}

    static byte[] build(Params p) {
        FdtBuilder t = new FdtBuilder();
        int[] intc = new int[p.harts()];
        int[] cpuPh = new int[p.harts()];
        for (int i = 0; i < p.harts(); i++) {
            intc[i] = t.phandle();
            cpuPh[i] = t.phandle();
        }
        int plicPh = t.phandle(), testPh = t.phandle();

        t.beginNode("");
        t.propertyU32("#address-cells", 2).propertyU32("#size-cells", 2);
        t.propertyString("compatible", "riscv-virtio").propertyString("model", "riscv-virtio,qemu");

        t.beginNode("chosen");
        t.propertyString("bootargs", p.bootargs());
        t.propertyString("stdout-path", "/soc/serial@" + hex(VirtMemoryMap.UART0.base));
        // 32 fresh random bytes, as QEMU's virt board gives: Linux seeds its RNG from them at once, where
        // without them it spends seconds of a boot gathering entropy (jitter loops) before the crng is ready
        byte[] seed = new byte[32];
        SEEDS.nextBytes(seed);
        t.property("rng-seed", seed);
        if (p.initrdEnd() > p.initrdStart()) {
            t.propertyU64("linux,initrd-start", p.initrdStart()).propertyU64("linux,initrd-end", p.initrdEnd());
        }
        t.endNode();

        t.beginNode("memory@" + hex(VirtMemoryMap.DRAM.base));
        t.propertyString("device_type", "memory");
        t.propertyU64("reg", VirtMemoryMap.DRAM.base, p.ramSize());
        t.endNode();

        t.beginNode("cpus");
        t.propertyU32("#address-cells", 1).propertyU32("#size-cells", 0);
        t.propertyU32("timebase-frequency", (int) VirtMemoryMap.TIMEBASE_HZ);
        for (int i = 0; i < p.harts(); i++) {
            t.beginNode("cpu@" + i);
            t.propertyU32("phandle", cpuPh[i]);
            t.propertyString("device_type", "cpu").propertyU32("reg", i).propertyString("status", "okay");
            t.propertyString("compatible", "riscv");
            t.propertyString("riscv,isa", "rv64imafdc_zicsr_zifencei");
            t.propertyString("riscv,isa-base", "rv64i");
            t.propertyStrings("riscv,isa-extensions", "i", "m", "a", "f", "d", "c", "zicntr", "zicsr", "zifencei");
            t.propertyString("mmu-type", p.mmuType());
            t.beginNode("interrupt-controller");
            t.propertyU32("#interrupt-cells", 1).propertyEmpty("interrupt-controller");
            t.propertyString("compatible", "riscv,cpu-intc").propertyU32("phandle", intc[i]);
            t.endNode();
            t.endNode();
        }
        t.beginNode("cpu-map").beginNode("cluster0");
        for (int i = 0; i < p.harts(); i++) t.beginNode("core" + i).propertyU32("cpu", cpuPh[i]).endNode();
        t.endNode().endNode();
        t.endNode(); // cpus

        t.beginNode("poweroff").propertyString("compatible", "syscon-poweroff")
                .propertyU32("regmap", testPh).propertyU32("offset", 0).propertyU32("value", 0x5555).endNode();
        t.beginNode("reboot").propertyString("compatible", "syscon-reboot")
                .propertyU32("regmap", testPh).propertyU32("offset", 0).propertyU32("value", 0x7777).endNode();

        t.beginNode("soc");
        t.propertyU32("#address-cells", 2).propertyU32("#size-cells", 2);
        t.propertyString("compatible", "simple-bus").propertyEmpty("ranges");

        node(t, "test", VirtMemoryMap.TEST).propertyStrings("compatible", "sifive,test1", "sifive,test0", "syscon")
                .propertyU32("phandle", testPh).endNode();
        node(t, "rtc", VirtMemoryMap.RTC).propertyString("compatible", "google,goldfish-rtc")
                .propertyU32("interrupts", VirtMemoryMap.RTC.irq).propertyU32("interrupt-parent", plicPh).endNode();
        node(t, "serial", VirtMemoryMap.UART0).propertyString("compatible", "ns16550a")
                .propertyU32("clock-frequency", (int) VirtMemoryMap.UART_CLOCK_HZ)
                .propertyU32("interrupts", VirtMemoryMap.UART0.irq).propertyU32("interrupt-parent", plicPh).endNode();

        // All slots, empty or not, as QEMU does: an empty slot answers device ID 0 and Linux skips it.
        for (int i = 0; i < VirtMemoryMap.VIRTIO_SLOTS; i++) {
            long base = VirtBoard.virtioBase(i);
            t.beginNode("virtio_mmio@" + hex(base)).propertyU64("reg", base, VirtMemoryMap.VIRTIO.size)
                    .propertyString("compatible", "virtio,mmio")
                    .propertyU32("interrupts", VirtMemoryMap.VIRTIO.irq + i).propertyU32("interrupt-parent", plicPh).endNode();
        }

        int[] plicIrqs = new int[p.harts() * 4];
        int[] clintIrqs = new int[p.harts() * 4];
        for (int i = 0; i < p.harts(); i++) {
            plicIrqs[4 * i] = intc[i];
            plicIrqs[4 * i + 1] = 11; // M-mode external
            plicIrqs[4 * i + 2] = intc[i];
            plicIrqs[4 * i + 3] = 9; // S-mode external
            clintIrqs[4 * i] = intc[i];
            clintIrqs[4 * i + 1] = 3; // M software
            clintIrqs[4 * i + 2] = intc[i];
            clintIrqs[4 * i + 3] = 7; // M timer
        }
        node(t, "plic", VirtMemoryMap.PLIC).propertyStrings("compatible", "sifive,plic-1.0.0", "riscv,plic0")
                .propertyU32("#interrupt-cells", 1).propertyU32("#address-cells", 0).propertyEmpty("interrupt-controller")
                .propertyU32("riscv,ndev", VirtMemoryMap.PLIC_SOURCES - 1)
                .propertyU32("interrupts-extended", plicIrqs).propertyU32("phandle", plicPh).endNode();
        node(t, "clint", VirtMemoryMap.CLINT).propertyStrings("compatible", "sifive,clint0", "riscv,clint0")
                .propertyU32("interrupts-extended", clintIrqs).endNode();
        t.endNode(); // soc
        t.endNode(); // root
        return t.finish();
    }

    private static FdtBuilder node(FdtBuilder t, String name, VirtMemoryMap part) {
        return t.beginNode(name + "@" + hex(part.base)).propertyU64("reg", part.base, part.size);
    }

    private static String hex(long v) { return Long.toHexString(v); }
}
