package dev.visor.images;

/** The few ELF header facts the image checks need (a wrong-architecture file is refused early). */
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
}
