package dev.visor.images;

import java.nio.file.Path;

/**
 * A guest image ready to boot: the files of one directory of the {@link ImageStore}.
 *
 * @param kernel        the Linux kernel in RISC-V {@code Image} format (load raw at 0x80200000)
 * @param initrd        the gzip-compressed cpio "newc" initramfs
 * @param firmware      OpenSBI {@code fw_jump.bin} (load at 0x80000000; jumps to 0x80200000)
 * @param kernelVersion the kernel release, e.g. {@code 6.12.117+deb13-riscv64}
 */
public record GuestImage(Path kernel, Path initrd, Path firmware, String kernelVersion) {

    /** The directory holding all files of this image. */
    public Path directory() { return kernel.getParent(); }

    /** OpenSBI {@code fw_dynamic.bin}, which takes a {@code struct fw_dynamic_info} pointer in a2. */
    public Path dynamicFirmware() { return directory().resolve(ImageStore.FW_DYNAMIC); }

    /** The decompressed virtio kernel modules ({@code <name>.ko}) that the initramfs also holds. */
    public Path modulesDirectory() { return directory().resolve(ImageStore.MODULES); }
}
