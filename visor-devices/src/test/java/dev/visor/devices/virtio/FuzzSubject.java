package dev.visor.devices.virtio;

import dev.visor.devices.virtio.FakeDriver.Buf;
import dev.visor.devices.virtio.FakeDriver.Used;
import dev.visor.devices.virtio.balloon.VirtioBalloon;
import dev.visor.devices.virtio.blk.MemoryDisk;
import dev.visor.devices.virtio.blk.VirtioBlk;
import dev.visor.devices.virtio.console.VirtioConsole;
import dev.visor.devices.virtio.net.VirtioNet;
import dev.visor.devices.virtio.rng.VirtioRng;
import dev.visor.machine.GuestMemory;
import dev.visor.net.GuestPort;
import dev.visor.net.NetBackend;

import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;

import static dev.visor.devices.virtio.FakeDriver.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * One device under fuzz each: which queues to attack, how to make the device consume a chain
 * ({@link #nudge}), what a plausible request payload looks like ({@link #fill}), and a well-formed
 * request whose answer is checked ({@link #check}) once the device has been reset.
 */
abstract class FuzzSubject {
    final VirtioDevice device;
    final long features;
    final int[] queueSizes;
    final int[] fuzzQueues;

    FuzzSubject(VirtioDevice device, long features, int[] queueSizes, int... fuzzQueues) {
        this.device = device;
        this.features = features;
        this.queueSizes = queueSizes;
        this.fuzzQueues = fuzzQueues;
    }

    void fill(Random rnd, byte[] b, boolean first) { rnd.nextBytes(b); }

    /** True when request payloads are guest addresses (see {@link ChainFuzzer}). */
    boolean payloadNamesMemory() { return false; }

    /** Called while waiting for the device to take the chains on {@code q}. */
    void nudge(int q) { }

    /** Starts the device and checks it serves a well-formed request correctly. */
    abstract void check(FakeDriver d);

    static int status(FakeDriver d, long statusByte) { return d.memory.readByte(statusByte); }

    static final class Blk extends FuzzSubject {
        Blk(GuestMemory m) { super(new VirtioBlk(m, new MemoryDisk(64 * 1024, false), "fuzz"), 0, new int[] {128}, 0); }

        @Override
        void fill(Random rnd, byte[] b, boolean first) {
            rnd.nextBytes(b);
            if (!first || b.length < 16) return;
            int[] types = {0, 1, 4, 8, 11, 13, rnd.nextInt()};
            long[] sectors = {0, rnd.nextInt(128), 127, 128, rnd.nextLong(), -1};
            ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(types[rnd.nextInt(types.length)]).putInt(0)
                    .putLong(sectors[rnd.nextInt(sectors.length)]);
        }

        @Override
        void check(FakeDriver d) {
            d.start(VERSION_1 | INDIRECT, queueSizes);
            byte[] data = new byte[512];
            new Random(d.usedIdx(0)).nextBytes(data);
            long s = d.alloc(1);
            d.submit(0, Buf.out(d.put(header(1, 3)), 16), Buf.out(d.put(data), 512), Buf.in(s, 1));
            d.kick(0);
            assertEquals(1, d.await(0).len());
            assertEquals(0, status(d, s));
            long in = d.alloc(512);
            d.submitIndirect(0, Buf.out(d.put(header(0, 3)), 16), Buf.in(in, 512), Buf.in(s, 1));
            d.kick(0);
            assertEquals(513, d.await(0).len());
            assertEquals(0, status(d, s));
            assertArrayEquals(data, d.get(in, 512));
        }

        private static byte[] header(int type, long sector) {
            return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(type).putInt(0).putLong(sector).array();
        }
    }

    static final class Net extends FuzzSubject {
        private static final class Backend implements NetBackend {
            volatile GuestPort port;
            volatile byte[] last;
            @Override public void start(GuestPort guest) { port = guest; }
            @Override public void send(ByteBuffer f) { byte[] b = new byte[f.remaining()]; f.get(b); last = b; }
            @Override public void close() { }
        }

        private final Backend backend;
        private final ByteBuffer frame = ByteBuffer.wrap(new byte[60]);

        Net(GuestMemory m) throws Exception { this(m, new Backend()); }

        private Net(GuestMemory m, Backend b) throws Exception {
            super(new VirtioNet(m, new byte[] {2, 0, 0, 0, 0, 1}, b), 1L << 5, new int[] {128, 128}, 0, 1);
            backend = b;
        }

        @Override
        void nudge(int q) {
            if (q == 0) backend.port.receive(frame.clear());
        }

        @Override
        void check(FakeDriver d) {
            d.start(VERSION_1 | features, queueSizes);
            byte[] f = new byte[64];
            Arrays.fill(f, (byte) d.usedIdx(1));
            f[0] = 42;
            d.submit(1, Buf.out(d.alloc(12), 12), Buf.out(d.put(f), 64));
            d.kick(1);
            d.await(1);
            FakeDriver.await(() -> backend.last != null && Arrays.equals(f, backend.last), "the transmitted frame");
            long rx = d.alloc(12 + 1514);
            d.submit(0, Buf.in(rx, 12 + 1514));
            d.kick(0);
            assertTrue(backend.port.receive(ByteBuffer.wrap(f)));
            assertEquals(12 + 64, d.await(0).len());
            assertArrayEquals(f, d.get(rx + 12, 64));
        }
    }

    static final class Rng extends FuzzSubject {
        Rng(GuestMemory m) { super(new VirtioRng(m), 0, new int[] {64}, 0); }

        @Override
        void check(FakeDriver d) {
            d.start(VERSION_1, queueSizes);
            requestRandom(d);
        }

        /** One 32-byte request on a started rng; asserts it came back filled. */
        static void requestRandom(FakeDriver d) {
            long a = d.alloc(32);
            int head = d.submit(0, Buf.in(a, 32));
            d.kick(0);
            assertEquals(new Used(head, 32), d.poll(0), "rng answers at once");
            assertFalse(Arrays.equals(new byte[32], d.get(a, 32)));
        }
    }

    static final class Console extends FuzzSubject {
        /** Keeps only the last bytes written: the fuzz writes megabytes of junk. */
        private static final class Tail extends OutputStream {
            private final byte[] tail = new byte[64];
            private long count;
            @Override public synchronized void write(int b) { tail[(int) (count++ % tail.length)] = (byte) b; }
            synchronized boolean endsWith(byte[] s) {
                if (count < s.length) return false;
                for (int i = 0; i < s.length; i++) if (tail[(int) ((count - s.length + i) % tail.length)] != s[i]) return false;
                return true;
            }
        }

        private final Tail out;

        Console(GuestMemory m) { this(m, new Tail()); }

        private Console(GuestMemory m, Tail out) {
            super(new VirtioConsole(m, out), 0, new int[] {128, 128}, 0, 1);
            this.out = out;
        }

        private VirtioConsole console() { return (VirtioConsole) device; }

        @Override
        void nudge(int q) {
            if (q == 0 && console().pendingInput() == 0) console().input(new byte[] {'x', 'y'}, 0, 2);
        }

        @Override
        void check(FakeDriver d) {
            d.start(VERSION_1, queueSizes);
            byte[] line = ("ok " + d.usedIdx(1) + "\n").getBytes();
            d.submit(1, Buf.out(d.put(line), line.length));
            d.kick(1);
            d.await(1);
            FakeDriver.await(() -> out.endsWith(line), "the console output");
            assertEquals(1, console().input(new byte[] {'Z'}, 0, 1)); // after what the fuzz left
            long rx = d.alloc(65536 + 1);
            d.submit(0, Buf.in(rx, 65536 + 1));
            d.kick(0);
            Used u = d.await(0);
            assertEquals('Z', d.memory.readByte(rx + u.len() - 1));
        }
    }

    static final class Balloon extends FuzzSubject {
        /** Pages the fuzz may legally inflate: no rings, buffers or canaries live there. */
        private final long spare, spareSize;

        Balloon(GuestMemory m, long spare, long spareSize) {
            super(new VirtioBalloon(m), 1L << 1, new int[] {128, 128, 128}, 0, 1, 2);
            this.spare = spare;
            this.spareSize = spareSize;
        }

        private VirtioBalloon balloon() { return (VirtioBalloon) device; }

        @Override boolean payloadNamesMemory() { return true; }

        @Override
        void fill(Random rnd, byte[] b, boolean first) {
            ByteBuffer pfns = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
            while (pfns.remaining() >= 4) {
                int pfn = switch (rnd.nextInt(3)) {
                    case 0 -> (int) ((spare >>> 12) + rnd.nextInt((int) (spareSize >>> 12)));
                    case 1 -> rnd.nextInt(0x1000);   // below RAM
                    default -> -1 - rnd.nextInt(16); // far past RAM
                };
                pfns.putInt(pfn);
            }
        }

        @Override
        void nudge(int q) {
            if (q == 2) balloon().requestStats();
        }

        @Override
        void check(FakeDriver d) {
            d.start(VERSION_1 | features, queueSizes);
            long page = spare + 4096L * (d.usedIdx(0) % (spareSize >>> 12));
            d.memory.writeLong(page, 0x1234);
            long before = balloon().releasedPages();
            byte[] pfn = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) (page >>> 12)).array();
            d.submit(0, Buf.out(d.put(pfn), 4));
            d.kick(0);
            d.await(0);
            assertEquals(before + 1, balloon().releasedPages());
            assertEquals(0, d.memory.readLong(page), "the page was given back");
        }
    }
}
