package dev.visor.board.virt;

import dev.visor.machine.GuestMemory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Places boot files in guest RAM the way QEMU's virt board does and points every hart at the entry:
 * <pre>
 *   0x80000000  firmware (OpenSBI fw_jump.bin), entered in M-mode with a0 = hart id, a1 = device tree
 *   0x80200000  kernel Image (where fw_jump jumps in S-mode)
 *   RAM/2 above the kernel (at most 256 MiB): initrd
 *   top of RAM, 2 MiB aligned: device tree
 * </pre>
 * Without firmware the kernel must be an ELF executable: it is loaded at its own addresses and entered
 * in M-mode (bare-metal programs; a {@code tohost} symbol turns on the HTIF exit convention).
 */
public final class BootLoader {
    static final long KERNEL_OFFSET = 0x20_0000;
    static final long DTB_ALIGN = 0x20_0000;
    static final int DTB_MAX = 0x10_000;

    private BootLoader() {}

    /** What to boot. {@code firmware} and {@code initrd} may be null. */
    public record BootFiles(Path firmware, Path kernel, Path initrd, String bootargs, String mmuType) {}

    static byte[] read(Path p, String what) throws BootException {
        try {
            if (Files.isDirectory(p)) throw new BootException(what + " " + p + " is a directory, not a file");
            return Files.readAllBytes(p);
        } catch (NoSuchFileException e) {
            throw new BootException(what + " " + p + " does not exist");
        } catch (IOException e) {
            throw new BootException("cannot read " + what + " " + p + ": " + e.getMessage());
        } catch (OutOfMemoryError e) {
            throw new BootException(what + " " + p + " is too large");
        }
    }

    /** Loads everything and resets the harts to the entry point. */
    public static void load(VirtBoard board, BootFiles f) throws BootException {
        GuestMemory mem = board.memory;
        long base = mem.base();
        byte[] kernel = read(f.kernel(), "kernel");
        long entry;
        long kernelEnd;
        if (f.firmware() == null) {
            ElfImage elf = ElfImage.parse(kernel, "kernel " + f.kernel());
            kernelEnd = elf.load(mem);
            entry = elf.entry;
            long tohost = elf.symbol("tohost");
            if (tohost >= 0) board.harts.setHtifToHost(tohost);
        } else {
            byte[] fw = read(f.firmware(), "firmware");
            if (fw.length == 0) throw new BootException("firmware " + f.firmware() + " is empty");
            if (fw.length > KERNEL_OFFSET) throw new BootException("firmware " + f.firmware() + " is larger than 2 MiB; expected OpenSBI fw_jump.bin");
            if (ElfImage.isElf(fw)) throw new BootException("firmware " + f.firmware() + " is an ELF file; give the raw fw_jump.bin");
            long kernelAddr = base + KERNEL_OFFSET;
            long kernelSize = checkImage(kernel, f.kernel());
            if (!mem.contains(kernelAddr, kernelSize)) throw tooSmall(mem, "kernel", kernelAddr + kernelSize);
            mem.write(base, fw, 0, fw.length);
            mem.write(kernelAddr, kernel, 0, kernel.length);
            kernelEnd = kernelAddr + kernelSize;
            entry = base;
        }

        long dtbAddr = (mem.end() - DTB_MAX) & ~(DTB_ALIGN - 1);
        long initrdStart = 0, initrdEnd = 0;
        if (f.initrd() != null) {
            byte[] initrd = read(f.initrd(), "initrd");
            long wanted = base + KERNEL_OFFSET + Math.min(mem.size() / 2, 256L << 20);
            initrdStart = (wanted + initrd.length <= dtbAddr ? wanted : dtbAddr - initrd.length) & ~0xfffL;
            if (initrdStart < kernelEnd) throw tooSmall(mem, "kernel and initrd", kernelEnd + initrd.length + DTB_ALIGN);
            mem.write(initrdStart, initrd, 0, initrd.length);
            initrdEnd = initrdStart + initrd.length;
        }
        if (dtbAddr < Math.max(kernelEnd, initrdEnd)) throw tooSmall(mem, "kernel", kernelEnd + DTB_ALIGN);

        byte[] dtb = VirtDeviceTree.build(new VirtDeviceTree.Params(board.harts.count(), mem.size(), f.mmuType(),
                f.bootargs(), initrdStart, initrdEnd));
        if (dtb.length > DTB_MAX) throw new BootException("device tree too large: " + dtb.length + " bytes");
        mem.write(dtbAddr, dtb, 0, dtb.length);

        for (int i = 0; i < board.harts.count(); i++) board.harts.hart(i).reset(entry, i, dtbAddr, 0);
    }

    /** Checks the RISC-V Image header and returns the size the kernel occupies in memory (with bss). */
    static long checkImage(byte[] k, Path p) throws BootException {
        if (ElfImage.isElf(k)) throw new BootException("kernel " + p + " is an ELF file; give the kernel Image (Debian's boot/vmlinux-*) or use --firmware none for bare-metal ELF programs");
        if (k.length < 64 || k[0x38] != 'R' || k[0x39] != 'S' || k[0x3a] != 'C' || k[0x3b] != 0x05) {
            throw new BootException("kernel " + p + " is not a RISC-V Linux Image (no RSC\\x05 magic at offset 0x38)");
        }
        long imageSize = ByteBuffer.wrap(k).order(ByteOrder.LITTLE_ENDIAN).getLong(16);
        return Math.max(imageSize, k.length);
    }

    private static BootException tooSmall(GuestMemory mem, String what, long needEnd) {
        long needMiB = ((needEnd - mem.base()) + (1 << 20) - 1) >> 20;
        return new BootException(String.format("guest RAM of %d MiB is too small for the %s: give at least --memory %dM",
                mem.size() >> 20, what, Math.max(needMiB, 16)));
    }
}
