package dev.visor.board.virt;

/**
 * QEMU's RISC-V {@code virt} memory map (see GUEST.md): the one table that both the MMIO bus wiring
 * and the device tree read, so the two cannot disagree.
 */
public enum VirtMemoryMap {
    TEST(0x0010_0000L, 0x1000, 0),
    RTC(0x0010_1000L, 0x1000, 11),
    CLINT(0x0200_0000L, 0x1_0000, 0),
    PLIC(0x0c00_0000L, 0x60_0000, 0),
    UART0(0x1000_0000L, 0x100, 10),
    VIRTIO(0x1000_1000L, 0x1000, 1),
    DRAM(0x8000_0000L, 0, 0);

    /** Number of virtio-mmio slots; slot i is at VIRTIO.base + i * VIRTIO.size with PLIC source 1 + i. */
    public static final int VIRTIO_SLOTS = 8;
    /** PLIC sources, as QEMU's virt board (source 0 is reserved). */
    public static final int PLIC_SOURCES = 96;
    /** Timebase of mtime and the time CSR: 10 MHz, like QEMU. */
    public static final long TIMEBASE_HZ = 10_000_000L;
    public static final long UART_CLOCK_HZ = 3_686_400L;

    public final long base;
    public final long size;
    /** PLIC source number, 0 if the part raises none. */
    public final int irq;

    VirtMemoryMap(long base, long size, int irq) {
        this.base = base;
        this.size = size;
        this.irq = irq;
    }
}
