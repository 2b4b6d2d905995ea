package dev.visor.net.user;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

class LongMapTest {
    @Test
    void behavesLikeHashMapUnderRandomOperations() {
        LongMap<Long> m = new LongMap<>(4);
        Map<Long, Long> ref = new HashMap<>();
        Random r = new Random(42);
        for (int i = 0; i < 200_000; i++) {
            long k = r.nextInt(600) * 0x1_0000_0001L; // few distinct keys: many collisions and removals
            switch (r.nextInt(3)) {
                case 0 -> { m.put(k, (long) i); ref.put(k, (long) i); }
                case 1 -> { m.remove(k); ref.remove(k); }
                default -> assertEquals(ref.get(k), m.get(k));
            }
            assertEquals(ref.size(), m.size());
        }
        for (Map.Entry<Long, Long> e : ref.entrySet()) assertEquals(e.getValue(), m.get(e.getKey()));
        long[] seen = {0};
        m.forEachSnapshot(v -> seen[0]++);
        assertEquals(ref.size(), seen[0]);
    }
}
