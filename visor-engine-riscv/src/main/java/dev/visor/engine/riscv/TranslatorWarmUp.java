package dev.visor.engine.riscv;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

/**
 * Gets the block translator JIT-compiled before a guest needs it, by translating made-up code: for
 * a process that waits for a migration. In a cold JVM the translator's own code (decoding, the
 * class-file API, class definition) runs in HotSpot's interpreter, and a translation takes about ten
 * times as long as in a warm one; an arriving guest then ran interpreted longer while its first hot
 * blocks waited. Measured outside a VM: the first 100 translations took 3.4 ms each, the tenth
 * hundred 0.3 ms. Measured with a guest printing a tick every 10 ms and moved 5 times: its first
 * tick at the destination came 121 to 246 ms after the resume (median 173) with 1000 of these,
 * 477 to 700 ms (median 494) without.
 */
public final class TranslatorWarmUp {
    private TranslatorWarmUp() {}

    /**
     * Translates made-up code {@code blocks} times, or for at most {@code maxMillis}; the classes are
     * dropped at once. Returns the blocks made.
     */
    public static int run(int blocks, long maxMillis) {
        int made = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment page = arena.allocate(0x1000, 0x1000);
            Random r = new Random(1);
            long end = System.nanoTime() + maxMillis * 1_000_000;
            for (int i = 0; i < blocks && System.nanoTime() < end; i++) {
                if (i % 16 == 0) fillWithCode(page, r);
                if (BlockTranslator.translate(page, 0x1000, 0x8000_0000L, 2L * r.nextInt(0x600)) != null) made++;
            }
        }
        return made;
    }

    /** A page of what kernel code is made of: ALU, loads, stores, branches inside the page, returns, compressed instructions. */
    static void fillWithCode(MemorySegment page, Random r) {
        int at = 0;
        while (at < 0x1000 - 4) {
            int rd = 8 + r.nextInt(8), rs1 = 8 + r.nextInt(8), rs2 = 8 + r.nextInt(8);
            int word = switch (r.nextInt(20)) {
                case 0, 1, 2 -> (r.nextInt(64) << 20) | (rs1 << 15) | (rd << 7) | 0x13; // addi
                case 3, 4 -> ((8 * r.nextInt(16)) << 20) | (rs1 << 15) | (3 << 12) | (rd << 7) | 0x03; // ld
                case 5 -> (rs2 << 20) | (rs1 << 15) | (3 << 12) | ((8 * r.nextInt(4)) << 7) | 0x23; // sd
                case 6 -> (rs2 << 20) | (rs1 << 15) | (rd << 7) | 0x33; // add
                case 7 -> (r.nextInt(1 << 20) << 12) | (rd << 7) | 0x37; // lui
                case 8, 9 -> { // beq or bne a few instructions ahead or back, inside the page
                    int off = 4 * (r.nextInt(16) - 6);
                    if (at + off < 0 || at + off >= 0x1000) off = 8;
                    yield (((off >> 12) & 1) << 31) | (((off >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15)
                            | (r.nextInt(2) << 12) | (((off >> 1) & 0xf) << 8) | (((off >> 11) & 1) << 7) | 0x63;
                }
                case 10 -> 0x00008067; // ret
                default -> -1; // a compressed instruction
            };
            if (word == -1) {
                short c = (short) (r.nextBoolean() ? 0x0001 | (rd << 7) | ((1 + r.nextInt(15)) << 2) // c.addi
                        : 0x8002 | (rd << 7) | (rs2 << 2)); // c.mv
                page.set(Hart.SHORT, at, c);
                at += 2;
            } else {
                page.set(Hart.INT, at, word);
                at += 4;
            }
        }
    }
}
