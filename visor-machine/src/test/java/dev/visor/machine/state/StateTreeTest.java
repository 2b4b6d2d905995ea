package dev.visor.machine.state;

import dev.visor.machine.Clock;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StateTreeTest {
    static StateTree sample() {
        StateTree t = new StateTree();
        StateWriter w = new StateWriter("hart0", 2);
        w.putLong("pc", 0x8020_0000L).putInt("priv", 1).putBool("wfi", true).putString("name", "h\u00e9")
                .putBytes("b", new byte[]{1, 2, 3}).putLongs("x", new long[]{-1, 0, 42}).putInts("i", new int[]{7, -7});
        t.add(w.record());
        t.add(new StateWriter("syscon", 1).record());
        return t;
    }

    @Test
    void roundTrip() throws StateException {
        StateTree back = StateTree.decode(sample().encode());
        StateReader r = back.reader("hart0");
        assertEquals(2, r.version());
        assertEquals(0x8020_0000L, r.getLong("pc", 0));
        assertEquals(1, r.getInt("priv", 0));
        assertTrue(r.getBool("wfi", false));
        assertEquals("h\u00e9", r.getString("name", null));
        assertArrayEquals(new byte[]{1, 2, 3}, r.getBytes("b", null));
        assertArrayEquals(new long[]{-1, 0, 42}, r.getLongs("x", null));
        assertArrayEquals(new int[]{7, -7}, r.getInts("i", null));
        assertTrue(back.has("syscon"));
        assertEquals(2, back.records().size());
    }

    @Test
    void missingFieldsDefaultAndUnknownOnesAreIgnored() throws StateException {
        StateReader r = StateTree.decode(sample().encode()).reader("hart0");
        assertEquals(5, r.getLong("added-later", 5));
        assertNull(r.getBytes("nothing", null));
        assertFalse(r.has("added-later"));
        // a reader that knows only "pc" restores fine: the other fields are simply not asked for
        assertEquals(0x8020_0000L, r.getLong("pc", 0));
    }

    @Test
    void wrongTypeNewerVersionAndMissingRecordAreRefused() throws StateException {
        StateTree t = StateTree.decode(sample().encode());
        StateReader r = t.reader("hart0");
        assertThrows(StateException.class, () -> r.getInt("pc", 0));
        assertThrows(StateException.class, () -> r.requireVersion(1));
        assertThrows(StateException.class, () -> r.requireLongs("x", 32));
        StateException e = assertThrows(StateException.class, () -> t.reader("plic"));
        assertTrue(e.getMessage().contains("plic"), e.getMessage());
    }

    @Test
    void badMagicVersionChecksumAndTruncationAreRefused() {
        byte[] good = sample().encode();
        byte[] magic = good.clone();
        magic[0] ^= 1;
        assertMessage("bad magic", magic);
        byte[] version = good.clone();
        version[7] = 9;
        assertMessage("format 9", resealed(version));
        byte[] flipped = good.clone();
        flipped[good.length / 2] ^= 0x40;
        assertMessage("checksum", flipped);
        for (int n : new int[]{0, 3, 15, good.length - 1}) {
            byte[] cut = java.util.Arrays.copyOf(good, n);
            assertThrows(StateException.class, () -> StateTree.decode(cut));
            assertThrows(StateException.class, () -> StateTree.decode(resealed(java.util.Arrays.copyOf(good, Math.max(n, 16)))));
        }
    }

    @Test
    void oversizedLengthsAreRefusedBeforeAllocating() {
        // a record count, a byte array length and a string length far beyond the data, each with a valid checksum
        assertMessage("out of bounds", resealed(file(b -> b.putInt(Integer.MAX_VALUE))));
        assertMessage("out of bounds", resealed(file(b -> {
            b.putInt(1).putShort((short) 1).put((byte) 'a').putInt(1).putInt(1);
            b.putShort((short) 1).put((byte) 'f').put((byte) 4).putInt(0x7fff_ffff);
        })));
        assertMessage("out of bounds", resealed(file(b -> {
            b.putInt(1).putShort((short) 1).put((byte) 'a').putInt(1).putInt(1);
            b.putShort((short) 1).put((byte) 'f').put((byte) 5).putInt(1 << 28);
        })));
        assertMessage("out of bounds", resealed(file(b -> b.putInt(1).putShort((short) 0xffff))));
        assertMessage("larger than", new byte[(64 << 20) + 1]);
    }

    @Test
    void clockContinuesFromTheSavedTick() throws Exception {
        Clock a = new Clock(10_000_000L);
        Thread.sleep(20);
        a.pause();
        StateWriter w = new StateWriter("clock", 1);
        a.saveState(w);
        long saved = a.ticks();
        Clock b = new Clock(10_000_000L);
        b.pause();
        b.restoreState(w.record().reader());
        assertEquals(saved, b.ticks());
        b.resume();
        Thread.sleep(5);
        assertTrue(b.ticks() > saved && b.ticks() < saved + 10_000_000L, "time goes on from " + saved + ": " + b.ticks());
        assertThrows(StateException.class, () -> new Clock(1_000_000L).restoreState(w.record().reader()));
    }

    interface Body { void write(ByteBuffer b); }

    /** A file with a good header and the given body (checksum left zero: reseal it). */
    static byte[] file(Body body) {
        ByteBuffer b = ByteBuffer.allocate(256);
        b.putInt(StateTree.MAGIC).putInt(StateTree.FORMAT_VERSION);
        body.write(b);
        b.putInt(0);
        return java.util.Arrays.copyOf(b.array(), b.position());
    }

    /** Recomputes the trailing CRC so that only the part under test is wrong. */
    static byte[] resealed(byte[] f) {
        CRC32 crc = new CRC32();
        crc.update(f, 0, f.length - 4);
        ByteBuffer.wrap(f, f.length - 4, 4).putInt((int) crc.getValue());
        return f;
    }

    static void assertMessage(String expected, byte[] file) {
        StateException e = assertThrows(StateException.class, () -> StateTree.decode(file));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }
}
