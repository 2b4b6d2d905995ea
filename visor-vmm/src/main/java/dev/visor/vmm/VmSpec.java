package dev.visor.vmm;

import java.nio.file.Path;
import java.util.List;

/**
 * What to build: the shape of one VM. Paths are checked when the VM is built, not here.
 *
 * @param cpus        number of harts (1..64)
 * @param memoryBytes guest RAM size in bytes
 * @param kernel      kernel Image (or, with no firmware, a bare-metal ELF run in M-mode)
 * @param initrd      initramfs, or null for none
 * @param firmware    firmware loaded at the start of RAM (OpenSBI fw_jump.bin), or null for none
 * @param append      kernel command line
 * @param devices     the virtio devices
 */
public record VmSpec(int cpus, long memoryBytes, Path kernel, Path initrd, Path firmware, String append, Devices devices) {
    public static final long DEFAULT_MEMORY = 512L << 20;
    public static final String DEFAULT_APPEND = "console=ttyS0 earlycon=sbi quiet";

    /** A VM with no virtio devices. */
    public VmSpec(int cpus, long memoryBytes, Path kernel, Path initrd, Path firmware, String append) {
        this(cpus, memoryBytes, kernel, initrd, firmware, append, Devices.NONE);
    }

    public VmSpec {
        if (devices == null) devices = Devices.NONE;
    }

    public VmSpec withDevices(Devices d) { return new VmSpec(cpus, memoryBytes, kernel, initrd, firmware, append, d); }

    /**
     * The virtio devices, in the order they take the board's slots: disks first (the first is vda),
     * then network cards, rng, balloon, console.
     *
     * @param disks          disk images
     * @param nets           network cards and what they attach to
     * @param rng            a virtio-rng fed from the host's SecureRandom
     * @param balloon        a virtio-balloon the host can inflate through the control socket
     * @param consolePort    where a virtio-console port's output goes (a file), or null for none
     * @param controlSocket  a Unix socket for commands to the running VM (resize, balloon), or null
     */
    public record Devices(List<DiskSpec> disks, List<NetSpec> nets, boolean rng, boolean balloon, Path consolePort,
                          Path controlSocket) {
        public static final Devices NONE = new Devices(List.of(), List.of(), false, false, null, null);

        public Devices {
            disks = List.copyOf(disks);
            nets = List.copyOf(nets);
        }

        /** Number of virtio slots these devices need. */
        public int slots() {
            return disks.size() + nets.size() + (rng ? 1 : 0) + (balloon ? 1 : 0) + (consolePort != null ? 1 : 0);
        }
    }
}
