package dev.visor.engine.riscv;

import dev.visor.machine.GuestMemory;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.List;

import static dev.visor.engine.riscv.BlockRig.BODY;
import static dev.visor.engine.riscv.BlockRig.EXIT;
import static dev.visor.engine.riscv.BlockRig.Unit;
import static dev.visor.engine.riscv.TestMachine.BASE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Block#matches}: a translated block is reused only while guest RAM holds exactly the bytes
 * it was made from: every byte of the block counts, bytes around it do not.
 */
class BlockMatchTest {
    final GuestMemory memory = new GuestMemory(BASE, 1L << 20);
    final MemorySegment ram = memory.segment();

    Block translate(long pa, List<Unit> units) {
        byte[] code = BlockRig.encode(units);
        memory.write(pa, code, 0, code.length);
        Block b = BlockTranslator.translate(ram, memory.size(), BASE, pa - BASE);
        assertNotNull(b);
        assertEquals(units.size(), b.count);
        return b;
    }

    /** Flips each byte of [pa, pa + len) in turn: {@code inside} says whether the block must notice. */
    void flipEach(Block b, long pa, int len, boolean inside) {
        for (int i = 0; i < len; i++) {
            long a = pa + i;
            byte old = memory.readByte(a);
            for (int bit = 0; bit < 8; bit++) {
                memory.writeByte(a, (byte) (old ^ (1 << bit)));
                assertEquals(!inside, b.matches(ram), String.format("byte 0x%x bit %d (%s the block)", a, bit, inside ? "inside" : "outside"));
            }
            memory.writeByte(a, old);
            assertTrue(b.matches(ram), String.format("restored byte 0x%x", a));
        }
    }

    static Unit u32(int w, int role) { return new Unit(w, 4, role); }

    static final Unit ADDI = u32(Rvc.iType(1, 10, 0, 10, 0x13), BODY);      // addi a0, a0, 1
    static final Unit C_ADDI = new Unit(0x0505, 2, BODY);                    // c.addi a0, 1
    static final Unit C_J = new Unit(0xa001, 2, EXIT);                       // c.j . (offset 0)
    static final Unit JAL = u32(Rvc.jType(-8, 0), EXIT);                      // j -8

    /** The block keeps its bytes as little-endian longs, the last one masked to the block's length. */
    private static void assertShape(Block b, int byteLength) {
        assertEquals((byteLength + 7) / 8, b.words.length);
        assertEquals((byteLength & 7) == 0 ? -1L : (1L << (8 * (byteLength & 7))) - 1, b.lastMask);
    }

    @Test
    void everyByteOfAWholeWordBlockCounts() {
        long pa = BASE + 0x1000;
        List<Unit> units = List.of(ADDI, ADDI, u32(Rvc.bType(8, 0, 10, 1), BODY), ADDI, JAL); // 20 bytes
        Block b = translate(pa, units);
        assertShape(b, 20);
        assertTrue(b.matches(ram));
        flipEach(b, pa, 20, true);
        flipEach(b, pa - 8, 8, false);
        flipEach(b, pa + 20, 8, false);
    }

    /** Block length 2 mod 4: the last word is masked, so the halfword after the block is ignored. */
    @Test
    void theTwoBytesAfterAnOddHalfwordBlockAreIgnored() {
        long pa = BASE + 0x2000;
        List<Unit> units = List.of(ADDI, C_ADDI, ADDI, C_ADDI, C_J); // 14 bytes
        Block b = translate(pa, units);
        assertShape(b, 14);
        // the halfword after the block holds something (an instruction that is not part of it)
        memory.writeShort(pa + 14, (short) 0x4505);
        assertTrue(b.matches(ram));
        flipEach(b, pa, 14, true);
        flipEach(b, pa + 14, 2, false);
        flipEach(b, pa + 16, 8, false);
        flipEach(b, pa - 4, 4, false);
        // rewriting the whole trailing halfword (not just one bit) still matches
        memory.writeShort(pa + 14, (short) 0xffff);
        assertTrue(b.matches(ram));
    }

    /** A block starting 2 bytes into a word (words are read unaligned from the block start). */
    @Test
    void aBlockAtAnOddHalfwordAddress() {
        long pa = BASE + 0x3002;
        memory.writeShort(pa - 2, (short) 0x1234);
        Block b = translate(pa, List.of(C_ADDI, ADDI, ADDI, C_J)); // 12 bytes
        assertShape(b, 12);
        flipEach(b, pa, 12, true);
        flipEach(b, pa - 2, 2, false);
        flipEach(b, pa + 12, 4, false);

        Block odd = translate(BASE + 0x3102, List.of(C_ADDI, ADDI, C_J)); // 8 bytes
        assertShape(odd, 8);
        Block odd2 = translate(BASE + 0x3202, List.of(C_ADDI, ADDI, C_ADDI, C_ADDI, C_J)); // 12 bytes
        flipEach(odd2, BASE + 0x3202, 12, true);
        Block odd3 = translate(BASE + 0x3302, List.of(ADDI, C_J)); // 6 bytes: 2 mod 4
        assertShape(odd3, 6);
        flipEach(odd3, BASE + 0x3302, 6, true);
        flipEach(odd3, BASE + 0x3308, 2, false);
    }

    /** A block that ends exactly at the page end (2 mod 4) reads its last word across it, which must not matter. */
    @Test
    void aBlockEndingAtThePageEnd() {
        long pa = BASE + 0x4ff2; // 14 bytes to the page end
        Block b = translate(pa, List.of(ADDI, C_ADDI, ADDI, C_ADDI, C_J));
        assertShape(b, 14);
        flipEach(b, pa, 14, true);
        flipEach(b, BASE + 0x5000, 4, false);
    }

    /** Changing an instruction and changing it back: the block misses, then hits again. */
    @Test
    void modifyAndRestoreAnInstruction() {
        long pa = BASE + 0x6000;
        Block b = translate(pa, List.of(ADDI, ADDI, ADDI, JAL));
        int old = memory.readInt(pa + 4);
        memory.writeInt(pa + 4, Rvc.iType(2, 10, 0, 10, 0x13)); // addi a0, a0, 2
        assertFalse(b.matches(ram));
        memory.writeInt(pa + 4, old);
        assertTrue(b.matches(ram));
        // the same instruction written again is fine
        memory.writeInt(pa + 8, old);
        assertTrue(b.matches(ram));
    }
}
