package dev.visor.net.user;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.io.ByteArrayInputStream;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class ByteRingTest {
    @Test
    void putCopyOutAndDrainAcrossTheWrap() throws Exception {
        ByteRing ring = new ByteRing(1000);
        byte[] data = new byte[100_000];
        new Random(9).nextBytes(data);
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        WritableByteChannel out = Channels.newChannel(sink);
        Random r = new Random(10);
        int in = 0;
        while (sink.size() < data.length) {
            int n = Math.min(r.nextInt(700), Math.min(ring.free(), data.length - in));
            ring.put(data, in, n);
            in += n;
            if (ring.size() > 0) {
                int off = r.nextInt(ring.size()), len = r.nextInt(ring.size() - off + 1);
                byte[] peek = new byte[len];
                ring.copyOut(off, peek, 0, len);
                int head = sink.size();
                assertArrayEquals(Arrays.copyOfRange(data, head + off, head + off + len), peek);
            }
            int drain = r.nextInt(ring.size() + 1);
            while (drain > 0) {
                int w = ring.writeTo(new LimitedChannel(out, drain));
                drain -= w;
            }
        }
        assertArrayEquals(data, sink.toByteArray());
        assertEquals(0, ring.size());
    }

    @Test
    void readFromFillsAcrossTheWrap() throws Exception {
        ByteRing ring = new ByteRing(64);
        byte[] junk = new byte[50];
        ring.put(junk, 0, 50);
        ring.discard(50);
        byte[] data = new byte[64];
        new Random(11).nextBytes(data);
        ReadableByteChannel src = Channels.newChannel(new ByteArrayInputStream(data));
        while (ring.free() > 0) ring.readFrom(src);
        byte[] back = new byte[64];
        ring.copyOut(0, back, 0, 64);
        assertArrayEquals(data, back);
    }

    /** Writes at most {@code limit} bytes in total per call. */
    private record LimitedChannel(WritableByteChannel out, int limit) implements WritableByteChannel {
        @Override
        public int write(ByteBuffer src) throws java.io.IOException {
            int n = Math.min(src.remaining(), limit);
            ByteBuffer part = src.slice(src.position(), n);
            int w = out.write(part);
            src.position(src.position() + w);
            return w;
        }

        @Override public boolean isOpen() { return true; }

        @Override public void close() { }
    }
}
