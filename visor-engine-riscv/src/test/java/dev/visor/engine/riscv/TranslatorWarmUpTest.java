package dev.visor.engine.riscv;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The translator's warm-up must exercise the translator: its made-up code has to become real regions. */
class TranslatorWarmUpTest {
    @Test
    void madeUpCodeBecomesRegionsOfSeveralInstructions() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment page = arena.allocate(0x1000, 0x1000);
            Random r = new Random(7);
            int tried = 0, made = 0;
            long instructions = 0;
            for (int k = 0; k < 4; k++) {
                TranslatorWarmUp.fillWithCode(page, r);
                for (int i = 0; i < 40; i++, tried++) {
                    Block b = BlockTranslator.translate(page, 0x1000, 0x8000_0000L, 2L * r.nextInt(0x600));
                    if (b == null) continue;
                    made++;
                    instructions += b.count;
                }
            }
            assertTrue(made >= tried * 3 / 4, made + " of " + tried + " entries translated");
            assertTrue(instructions >= 8L * made, "regions average " + (double) instructions / made + " instructions");
        }
    }

    @Test
    void runCountsTheBlocksItMade() {
        int made = TranslatorWarmUp.run(64, 60_000);
        assertTrue(made >= 48 && made <= 64, made + " blocks of 64");
    }
}
