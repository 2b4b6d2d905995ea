package dev.visor.net.l2;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MacTableTest {
    private static final long AGE = 300;
    private final MacTable<String> table = new MacTable<>(3, AGE);

    @Test
    void learnsAndMovesAddresses() {
        table.learn(0xa, "p1", 0);
        assertSame("p1", table.lookup(0xa, 1));
        table.learn(0xa, "p2", 2); // the VM moved
        assertSame("p2", table.lookup(0xa, 3));
        assertNull(table.lookup(0xb, 3));
    }

    @Test
    void entriesAgeOutUnlessRefreshed() {
        table.learn(0xa, "p1", 0);
        table.learn(0xb, "p1", 0);
        assertSame("p1", table.lookup(0xa, AGE));
        table.learn(0xb, "p1", 200);
        assertNull(table.lookup(0xa, AGE + 1));
        assertSame("p1", table.lookup(0xb, AGE + 1));
        table.expire(200 + AGE + 1);
        assertEquals(0, table.size());
    }

    @Test
    void forgetsADisconnectedPort() {
        table.learn(0xa, "p1", 0);
        table.learn(0xb, "p2", 0);
        table.learn(0xc, "p1", 0);
        table.forget("p1");
        assertNull(table.lookup(0xa, 1));
        assertNull(table.lookup(0xc, 1));
        assertSame("p2", table.lookup(0xb, 1));
    }

    @Test
    void fullTableStopsLearningNewAddresses() {
        table.learn(1, "p", 0);
        table.learn(2, "p", 0);
        table.learn(3, "p", 0);
        table.learn(4, "p", 0);
        assertNull(table.lookup(4, 1));
        table.learn(3, "q", 1); // known addresses still move
        assertSame("q", table.lookup(3, 1));
        assertEquals(3, table.size());
    }

    @Test
    void framingRecognisesCompleteShortAndBadFrames() {
        ByteBuffer b = ByteBuffer.allocate(64);
        b.putInt(20).put(new byte[10]).flip();
        assertEquals(Framing.NEED_MORE, Framing.complete(b));
        b.clear();
        b.putInt(20).put(new byte[20]).flip();
        assertEquals(20, Framing.complete(b));
        assertEquals(0, b.position(), "complete() must not consume");
        for (int bad : new int[] {0, 13, 65551, -1}) {
            b.clear();
            b.putInt(bad).flip(); // the header alone is enough to reject it
            assertEquals(Framing.BAD, Framing.complete(b), "length " + bad);
        }
        b.clear();
        b.put(new byte[] {0, 0, 0}).flip();
        assertEquals(Framing.NEED_MORE, Framing.complete(b));
    }

    @Test
    void multicastBitIsTheLowBitOfTheFirstOctet() {
        assertTrue(Framing.isMulticast(0xffff_ffff_ffffL));
        assertTrue(Framing.isMulticast(0x0100_5e00_0001L));
        assertTrue(Framing.isMulticast(0x3333_0000_0001L));
        assertFalse(Framing.isMulticast(0x5254_0012_3456L));
        assertFalse(Framing.isMulticast(0x0200_0000_0001L));
    }
}
