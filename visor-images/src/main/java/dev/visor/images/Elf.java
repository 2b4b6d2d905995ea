package dev.visor.images;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Optional;

/**
 * The few ELF facts the image needs: header checks (a wrong-architecture file is refused early)
 * and one section's bytes (a kernel module's {@code .modinfo}).
 */
final class Elf {
    /** {@code e_machine} of RISC-V. */
    static final int EM_RISCV = 243;

    private Elf() {}

    static boolean isElf(byte[] data) {
        return data.length >= 20 && data[0] == 0x7f && data[1] == 'E' && data[2] == 'L' && data[3] == 'F';
    }

    /** {@code e_machine} (offset 18, 16 bits), assuming a little-endian ELF as RISC-V's are. */
    static int machine(byte[] data) {
        if (!isElf(data)) return -1;
        return (data[18] & 0xff) | (data[19] & 0xff) << 8;
    }

    /** True for a 64-bit little-endian RISC-V ELF file. */
    static boolean isRiscv64(byte[] data) {
        return isElf(data) && data[4] == 2 /* ELFCLASS64 */ && data[5] == 1 /* little-endian */
                && machine(data) == EM_RISCV;
    }

    /**
     * The bytes of the section called {@code name} in a 64-bit little-endian ELF file, or empty if
     * there is none or the headers do not fit the file.
     */
    static Optional<byte[]> section(byte[] data, String name) {
        if (!isElf(data) || data[4] != 2 || data[5] != 1 || data.length < 0x40) return Optional.empty();
        long shoff = u64(data, 0x28);
        int shentsize = u16(data, 0x3a);
        int shnum = u16(data, 0x3c);
        int shstrndx = u16(data, 0x3e);
        // Section header: sh_name (u32) at 0, sh_offset (u64) at 0x18, sh_size (u64) at 0x20.
        if (shentsize < 0x28 || shstrndx >= shnum || !fits(data, shoff, (long) shnum * shentsize)) {
            return Optional.empty();
        }
        int strtab = (int) shoff + shstrndx * shentsize;
        long namesOffset = u64(data, strtab + 0x18);
        long namesSize = u64(data, strtab + 0x20);
        if (!fits(data, namesOffset, namesSize)) return Optional.empty();
        byte[] wanted = name.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < shnum; i++) {
            int header = (int) shoff + i * shentsize;
            long nameAt = namesOffset + u32(data, header);
            long nameEnd = nameAt + wanted.length;
            if (nameEnd >= namesOffset + namesSize || data[(int) nameEnd] != 0
                    || !Arrays.equals(data, (int) nameAt, (int) nameEnd, wanted, 0, wanted.length)) {
                continue;
            }
            long offset = u64(data, header + 0x18);
            long size = u64(data, header + 0x20);
            if (!fits(data, offset, size)) return Optional.empty();
            return Optional.of(Arrays.copyOfRange(data, (int) offset, (int) (offset + size)));
        }
        return Optional.empty();
    }

    private static boolean fits(byte[] data, long offset, long size) {
        return offset >= 0 && size >= 0 && offset <= data.length && size <= data.length - offset;
    }

    private static int u16(byte[] d, int at) {
        return (d[at] & 0xff) | (d[at + 1] & 0xff) << 8;
    }

    private static long u32(byte[] d, int at) {
        return (u16(d, at) | (long) u16(d, at + 2) << 16) & 0xffff_ffffL;
    }

    private static long u64(byte[] d, int at) {
        return u32(d, at) | u32(d, at + 4) << 32;
    }
}
