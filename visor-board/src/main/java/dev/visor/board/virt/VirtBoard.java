package dev.visor.board.virt;

import dev.visor.devices.riscv.Clint;
import dev.visor.devices.riscv.Plic;
import dev.visor.devices.rtc.GoldfishRtc;
import dev.visor.devices.syscon.PowerListener;
import dev.visor.devices.syscon.TestSyscon;
import dev.visor.devices.uart.Uart16550;
import dev.visor.devices.virtio.VirtioDevice;
import dev.visor.devices.virtio.VirtioMmio;
import dev.visor.engine.riscv.HartGroup;
import dev.visor.machine.Clock;
import dev.visor.machine.GuestMemory;
import dev.visor.machine.MmioBus;

import java.io.OutputStream;

/**
 * QEMU's RISC-V {@code virt} machine: guest RAM, the MMIO bus wired from {@link VirtMemoryMap}, the
 * board devices (CLINT, PLIC, UART, RTC, test/syscon) and the harts of the RISC-V engine.
 * {@link BootLoader} puts firmware, kernel, initrd and device tree into RAM and sets the harts' entry.
 */
public final class VirtBoard {
    public final GuestMemory memory;
    public final MmioBus bus = new MmioBus();
    public final Clock clock = new Clock(VirtMemoryMap.TIMEBASE_HZ);
    public final HartGroup harts;
    public final Plic plic;
    public final Clint clint;
    public final Uart16550 uart;
    public final GoldfishRtc rtc;
    public final TestSyscon syscon;
    /** The virtio-mmio slots; null until a device is added (empty slots are wired at start). */
    private final VirtioMmio[] virtio = new VirtioMmio[VirtMemoryMap.VIRTIO_SLOTS];

    /**
     * @param harts   number of harts
     * @param ramSize guest RAM in bytes (multiple of 4 KiB)
     * @param console where the UART's output goes
     * @param power   told when the guest powers off or reboots
     * @param engine  told when a bare-metal program exits through HTIF or the engine fails
     */
    public VirtBoard(int harts, long ramSize, OutputStream console, PowerListener power, HartGroup.Listener engine) {
        this(harts, new GuestMemory(VirtMemoryMap.DRAM.base, ramSize), console, power, engine);
    }

    /**
     * A board on the given RAM (e.g. a snapshot's RAM file mapped copy-on-write), which must start at
     * {@link VirtMemoryMap#DRAM}'s base.
     */
    public VirtBoard(int harts, GuestMemory ram, OutputStream console, PowerListener power, HartGroup.Listener engine) {
        if (ram.base() != VirtMemoryMap.DRAM.base) throw new IllegalArgumentException("RAM must start at 0x" + Long.toHexString(VirtMemoryMap.DRAM.base));
        memory = ram;
        this.harts = new HartGroup(harts, memory, bus, clock, engine);
        plic = new Plic(this.harts.pins(), VirtMemoryMap.PLIC_SOURCES);
        clint = new Clint(clock, this.harts.pins());
        uart = new Uart16550(console, plic.line(VirtMemoryMap.UART0.irq));
        rtc = new GoldfishRtc(plic.line(VirtMemoryMap.RTC.irq));
        syscon = new TestSyscon(power);
        bus.register("test", VirtMemoryMap.TEST.base, VirtMemoryMap.TEST.size, syscon);
        bus.register("rtc", VirtMemoryMap.RTC.base, VirtMemoryMap.RTC.size, rtc);
        bus.register("clint", VirtMemoryMap.CLINT.base, VirtMemoryMap.CLINT.size, clint);
        bus.register("plic", VirtMemoryMap.PLIC.base, VirtMemoryMap.PLIC.size, plic);
        bus.register("uart0", VirtMemoryMap.UART0.base, VirtMemoryMap.UART0.size, uart);
    }

    /**
     * Puts a virtio device into the next free slot (slot i at VIRTIO.base + i * VIRTIO.size, PLIC
     * source 1 + i). Devices are added before the VM starts; the first disk added becomes vda.
     */
    public VirtioMmio addVirtio(VirtioDevice device) {
        for (int i = 0; i < virtio.length; i++) {
            if (virtio[i] == null) {
                virtio[i] = new VirtioMmio(memory, device, plic.line(VirtMemoryMap.VIRTIO.irq + i));
                bus.register("virtio" + i, virtioBase(i), VirtMemoryMap.VIRTIO.size, virtio[i]);
                return virtio[i];
            }
        }
        throw new IllegalStateException("all " + virtio.length + " virtio slots are in use");
    }

    /** Free virtio slots left. */
    public int freeVirtioSlots() {
        int n = 0;
        for (VirtioMmio v : virtio) if (v == null) n++;
        return n;
    }

    /** The transports of the devices added, in slot order. */
    public java.util.List<VirtioMmio> virtioDevices() {
        java.util.List<VirtioMmio> list = new java.util.ArrayList<>();
        for (VirtioMmio v : virtio) if (v != null && v.device() != null) list.add(v);
        return list;
    }

    /** Number of virtio-mmio slots on the board. */
    public int virtioSlotCount() { return virtio.length; }

    /** The transport in slot {@code i}: null before {@link #start} for a slot with no device. */
    public VirtioMmio virtioSlot(int i) { return virtio[i]; }

    static long virtioBase(int slot) { return VirtMemoryMap.VIRTIO.base + slot * VirtMemoryMap.VIRTIO.size; }

    public void start() {
        for (int i = 0; i < virtio.length; i++) {
            if (virtio[i] == null) {
                virtio[i] = new VirtioMmio(memory, null, plic.line(VirtMemoryMap.VIRTIO.irq + i));
                bus.register("virtio" + i, virtioBase(i), VirtMemoryMap.VIRTIO.size, virtio[i]);
            }
        }
        harts.start();
    }

    private final java.util.concurrent.atomic.AtomicBoolean stopped = new java.util.concurrent.atomic.AtomicBoolean();

    /** Stops the harts and closes the devices' files, sockets and threads; later calls do nothing. */
    public void stop() {
        if (stopped.getAndSet(true)) return;
        harts.stop();
        rtc.close();
        for (VirtioMmio v : virtio) if (v != null && v.device() != null) v.device().close();
    }
}
