package dev.visor.board.virt;

import dev.visor.machine.GuestMemory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * A little-endian ELF64 RISC-V executable: its loadable segments, entry point and (for bare-metal
 * tests) the address of the {@code tohost} symbol. Every header field is checked against the file
 * size before use, so a truncated or hostile file gives a {@link BootException}, never an exception
 * from deep inside.
 */
public final class ElfImage {
    static final int EM_RISCV = 243;

    private final ByteBuffer buf;
    private final String name;
    public final long entry;

    private ElfImage(byte[] data, String name) throws BootException {
        this.name = name;
        this.buf = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        if (data.length < 64 || !isElf(data)) throw new BootException(name + " is not an ELF file");
        if (data[4] != 2 || data[5] != 1) throw new BootException(name + " is not a 64-bit little-endian ELF file");
        int machine = buf.getShort(18) & 0xffff;
        if (machine != EM_RISCV) throw new BootException(name + " is an ELF file for another architecture (e_machine " + machine + "), not RISC-V");
        entry = buf.getLong(24);
    }

    public static boolean isElf(byte[] data) {
        return data.length >= 4 && data[0] == 0x7f && data[1] == 'E' && data[2] == 'L' && data[3] == 'F';
    }

    public static ElfImage parse(byte[] data, String name) throws BootException {
        return new ElfImage(data, name);
    }

    private void check(long off, long len) throws BootException {
        if (off < 0 || len < 0 || off > buf.capacity() - len) throw new BootException(name + " is a truncated or corrupt ELF file");
    }

    /** Copies every PT_LOAD segment to its physical address (zero-filling bss); returns the highest address loaded. */
    public long load(GuestMemory memory) throws BootException {
        long phoff = buf.getLong(32);
        int phentsize = buf.getShort(54) & 0xffff, phnum = buf.getShort(56) & 0xffff;
        check(phoff, (long) phentsize * phnum);
        long top = 0;
        for (int i = 0; i < phnum; i++) {
            int p = (int) (phoff + (long) i * phentsize);
            if (buf.getInt(p) != 1) continue; // PT_LOAD
            long offset = buf.getLong(p + 8), paddr = buf.getLong(p + 24);
            long filesz = buf.getLong(p + 32), memsz = buf.getLong(p + 40);
            check(offset, filesz);
            if (filesz > memsz || !memory.contains(paddr, memsz)) {
                throw new BootException(String.format("%s: segment at 0x%x (%d bytes) is outside guest RAM 0x%x-0x%x",
                        name, paddr, memsz, memory.base(), memory.end()));
            }
            memory.write(paddr, buf.array(), (int) offset, (int) filesz);
            for (long a = paddr + filesz; a < paddr + memsz; a++) memory.writeByte(a, (byte) 0);
            top = Math.max(top, paddr + memsz);
        }
        return top;
    }

    /** The value of symbol {@code wanted} from the symbol table, or -1. */
    public long symbol(String wanted) throws BootException {
        long shoff = buf.getLong(40);
        int shentsize = buf.getShort(58) & 0xffff, shnum = buf.getShort(60) & 0xffff;
        if (shoff == 0 || shnum == 0) return -1;
        check(shoff, (long) shentsize * shnum);
        for (int i = 0; i < shnum; i++) {
            int s = (int) (shoff + (long) i * shentsize);
            if (buf.getInt(s + 4) != 2) continue; // SHT_SYMTAB
            long symOff = buf.getLong(s + 24), symSize = buf.getLong(s + 32), entSize = buf.getLong(s + 56);
            int link = buf.getInt(s + 40);
            if (link >= shnum || entSize < 24) continue;
            int strHdr = (int) (shoff + (long) link * shentsize);
            long strOff = buf.getLong(strHdr + 24), strSize = buf.getLong(strHdr + 32);
            check(symOff, symSize);
            check(strOff, strSize);
            for (long e = symOff; e + entSize <= symOff + symSize; e += entSize) {
                long nameIdx = buf.getInt((int) e) & 0xffffffffL;
                if (nameIdx >= strSize) continue;
                int start = (int) (strOff + nameIdx), end = start;
                while (end < strOff + strSize && buf.get(end) != 0) end++;
                if (new String(buf.array(), start, end - start, StandardCharsets.UTF_8).equals(wanted)) {
                    return buf.getLong((int) e + 8);
                }
            }
        }
        return -1;
    }
}
