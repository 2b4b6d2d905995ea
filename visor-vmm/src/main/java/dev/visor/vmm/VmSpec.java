package dev.visor.vmm;

import java.nio.file.Path;

/**
 * What to build: the shape of one VM. Paths are checked when the VM is built, not here.
 *
 * @param cpus        number of harts (1..64)
 * @param memoryBytes guest RAM size in bytes
 * @param kernel      kernel Image (or, with no firmware, a bare-metal ELF run in M-mode)
 * @param initrd      initramfs, or null for none
 * @param firmware    firmware loaded at the start of RAM (OpenSBI fw_jump.bin), or null for none
 * @param append      kernel command line
 */
public record VmSpec(int cpus, long memoryBytes, Path kernel, Path initrd, Path firmware, String append) {
    public static final long DEFAULT_MEMORY = 512L << 20;
    public static final String DEFAULT_APPEND = "console=ttyS0 earlycon=sbi quiet";
}
