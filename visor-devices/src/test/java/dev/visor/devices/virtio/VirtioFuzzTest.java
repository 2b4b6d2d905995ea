package dev.visor.devices.virtio;

import dev.visor.devices.virtio.ChainFuzzer.Kind;
import dev.visor.machine.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;

import static dev.visor.devices.virtio.FakeDriver.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * A hostile guest against each device: thousands of random and malformed descriptor chains (fixed
 * seeds), rings placed badly, queues moved while live, random register writes. Throughout: no
 * exception leaves the MMIO calls or the device threads, nothing is written outside the rings and
 * buffers the driver owns (canaries), every malformed chain gives DEVICE_NEEDS_RESET with a
 * configuration interrupt, a reset device serves a well-formed request again, and a second device
 * on its own transport keeps working.
 *
 * <pre>
 *   RAM 0x8000_0000, 16 MiB:
 *   +0x00_0000  fuzzed device's rings and buffers (6 MiB)
 *   +0x60_0000  the other device (rng)         +0x70_0000  canary (1 MiB)
 *   +0x80_0000  spare pages the balloon may inflate (7 MiB)
 *   +0xf0_0000  canary (1 MiB, up to the end of RAM)
 * </pre>
 */
class VirtioFuzzTest {
    static final long RAM = 0x8000_0000L, SIZE = 16 << 20;
    static final long FUZZ = RAM, FUZZ_SIZE = 0x60_0000, OTHER = RAM + 0x60_0000, OTHER_SIZE = 0x10_0000;
    static final long CANARY_LOW = RAM + 0x70_0000, SPARE = RAM + 0x80_0000, SPARE_SIZE = 0x70_0000,
            CANARY_HIGH = RAM + 0xf0_0000, CANARY_SIZE = 0x10_0000;
    /** Per device; each iteration resets the device and sends 1 to 4 chains (about 2 s per device on 2 cores). */
    static final int ITERATIONS = 2000;

    private final GuestMemory memory = new GuestMemory(RAM, SIZE);
    private final List<Throwable> uncaught = new CopyOnWriteArrayList<>();
    private final byte[] canary = new byte[(int) CANARY_SIZE];
    private Thread.UncaughtExceptionHandler previous;
    private FakeDriver other;

    @BeforeEach
    void setUp() {
        previous = Thread.getDefaultUncaughtExceptionHandler();
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> uncaught.add(e));
        new Random(99).nextBytes(canary);
        memory.write(CANARY_LOW, canary, 0, canary.length);
        memory.write(CANARY_HIGH, canary, 0, canary.length);
        RecordingIrq irq = new RecordingIrq();
        other = new FakeDriver(memory, new VirtioMmio(memory, new dev.visor.devices.virtio.rng.VirtioRng(memory), irq), irq, OTHER, OTHER_SIZE);
        other.start(VERSION_1, 64);
    }

    @AfterEach
    void tearDown() { Thread.setDefaultUncaughtExceptionHandler(previous); }

    @Test void blk() { fuzz(new FuzzSubject.Blk(memory), 1); }
    @Test void net() throws Exception { fuzz(new FuzzSubject.Net(memory), 2); }
    @Test void rng() { fuzz(new FuzzSubject.Rng(memory), 3); }
    @Test void console() { fuzz(new FuzzSubject.Console(memory), 4); }
    @Test void balloon() { fuzz(new FuzzSubject.Balloon(memory, SPARE, SPARE_SIZE), 5); }

    private void fuzz(FuzzSubject s, long seed) {
        Random rnd = new Random(seed);
        RecordingIrq irq = new RecordingIrq();
        FakeDriver d = new FakeDriver(memory, new VirtioMmio(memory, s.device, irq), irq, FUZZ, FUZZ_SIZE);
        ChainFuzzer fuzzer = new ChainFuzzer(rnd, d, s::fill, s.payloadNamesMemory());
        EnumSet<Kind> seen = EnumSet.noneOf(Kind.class);
        int chains = 0, rejected = 0, served = 0, servedChains = 0;
        try {
            for (int it = 0; it < ITERATIONS; it++) {
                String where = s.device.name() + " iteration " + it;
                boolean indirect = rnd.nextInt(4) != 0;
                long features = VERSION_1 | s.features | (indirect ? INDIRECT : 0) | (rnd.nextBoolean() ? EVENT_IDX : 0);
                int roll = rnd.nextInt(100);
                if (roll < 5) {
                    badRings(d, s, features, rnd, where);
                } else if (roll < 8) {
                    registerStorm(d, s, features, rnd);
                } else if (roll < 11) {
                    queueMovedWhileLive(d, s, features, rnd);
                } else {
                    d.start(features, s.queueSizes);
                    int q = s.fuzzQueues[rnd.nextInt(s.fuzzQueues.length)];
                    int published = 0;
                    boolean mustReject = false;
                    List<Kind> batch = new java.util.ArrayList<>();
                    while (published < 4 && !mustReject) { // nothing after a chain the device must stop at
                        Kind k = fuzzer.pick();
                        seen.add(k);
                        batch.add(k);
                        mustReject = fuzzer.add(q, k, indirect);
                        published++;
                        if (rnd.nextInt(3) == 0) break;
                    }
                    chains += published;
                    where += " queue " + q + " " + batch;
                    d.kick(q);
                    int n = published;
                    FakeDriver.await(() -> {
                        s.nudge(q);
                        return d.needsReset() || d.pendingUsed(q) >= n;
                    }, where + ": the device taking its chains");
                    if (mustReject) {
                        assertTrue(d.needsReset(), where + ": a malformed chain was served");
                        // the device sets the status bit, then interrupts: allow it the moment in between
                        FakeDriver.await(() -> (d.read(INTERRUPT_STATUS) & INT_CONFIG) != 0 && irq.level(),
                                where + ": a configuration interrupt for DEVICE_NEEDS_RESET");
                    }
                    servedChains += d.pendingUsed(q);
                    if (d.needsReset()) {
                        rejected++;
                        s.check(d);
                    } else {
                        served++;
                    }
                }
                assertIntact(where);
            }
            s.check(d);
        } finally {
            s.device.close();
        }
        System.out.printf("%s: %d iterations, %d chains, %d used, %d resets after rejection, %d batches all served%n",
                s.device.name(), ITERATIONS, chains, servedChains, rejected, served);
        assertEquals(EnumSet.allOf(Kind.class), seen, "every kind of chain was tried");
        assertTrue(chains >= 2000, "chains: " + chains);
        assertTrue(rejected > ITERATIONS / 4 && servedChains > ITERATIONS / 10, "rejected " + rejected + ", used " + servedChains);
    }

    /** Nothing escaped, nothing was written outside the fuzzed device's area, the other device still works. */
    private void assertIntact(String where) {
        assertTrue(uncaught.isEmpty(), () -> where + ": a device thread died: " + uncaught);
        assertCanary(CANARY_LOW, where);
        assertCanary(CANARY_HIGH, where);
        assertFalse(other.needsReset(), where);
        FuzzSubject.Rng.requestRandom(other);
    }

    private void assertCanary(long at, String where) {
        long first = memory.slice(at, CANARY_SIZE).mismatch(MemorySegment.ofArray(canary));
        if (first < 0) return;
        long last = first;
        for (long i = first; i < CANARY_SIZE; i++) if (memory.readByte(at + i) != canary[(int) i]) last = i;
        fail(String.format("%s: canary changed at 0x%x..0x%x", where, at + first, at + last));
    }

    /** Rings misplaced or mis-sized: refused when the queue goes live; the device never starts. */
    private void badRings(FakeDriver d, FuzzSubject s, long features, Random rnd, String where) {
        assertTrue(d.negotiate(features));
        int q = rnd.nextInt(s.queueSizes.length);
        for (int i = 0; i < q; i++) d.setupQueue(i, s.queueSizes[i]);
        int n = s.queueSizes[q];
        long desc = d.ringAddress(q), avail = desc + 16L * n, used = (avail + 6 + 2L * n + 3) & -4;
        switch (rnd.nextInt(8)) {
            case 0 -> desc = memory.end() - 8L * n;      // runs past the end of RAM
            case 1 -> desc += 8;                          // misaligned
            case 2 -> avail += 1;
            case 3 -> used += 2;
            case 4 -> n = 0;
            case 5 -> n = 3 * (1 + rnd.nextInt(20));      // not a power of two
            case 6 -> n = 2 * d.read(QUEUE_NUM_MAX);      // beyond the maximum
            default -> used = rnd.nextBoolean() ? -4096 : memory.end() - 8;
        }
        d.setupQueue(q, n, desc, avail, used);
        assertTrue(d.needsReset(), where + ": bad ring accepted");
        d.driverOk();
        for (int i = 0; i < s.queueSizes.length; i++) d.kick(i);
        s.check(d);
    }

    /** Random register writes and reads, addresses excepted (covered by badRings): none may throw. */
    private void registerStorm(FakeDriver d, FuzzSubject s, long features, Random rnd) {
        d.start(features, s.queueSizes);
        int[] sizes = {1, 2, 4, 8};
        for (int i = 0; i < 40; i++) {
            long offset = rnd.nextInt(0x140);
            if (offset >= QUEUE_DESC_LOW && offset < QUEUE_USED_HIGH + 4) continue;
            int size = sizes[rnd.nextInt(4)];
            if (rnd.nextBoolean()) d.mmio.write(offset, size, rnd.nextLong());
            else d.mmio.read(offset, size);
        }
        d.mmio.read(rnd.nextLong(), 4);
        d.mmio.write(rnd.nextLong() | Long.MIN_VALUE, 4, rnd.nextLong());
        s.check(d);
    }

    /** A live queue with a request in it is disabled and pointed outside RAM: the device must not follow. */
    private void queueMovedWhileLive(FakeDriver d, FuzzSubject s, long features, Random rnd) {
        d.start(features, s.queueSizes);
        int q = s.fuzzQueues[rnd.nextInt(s.fuzzQueues.length)];
        d.submit(q, FakeDriver.Buf.out(d.put(new byte[64]), 64), FakeDriver.Buf.in(d.alloc(64), 64));
        d.write(QUEUE_SEL, q);
        d.write(QUEUE_READY, 0);
        d.write(QUEUE_NUM, rnd.nextInt(1 << 16));
        for (int reg = QUEUE_DESC_LOW; reg <= QUEUE_USED_HIGH; reg += 4) d.write(reg, rnd.nextInt() | 1);
        d.kick(q);
        for (int i = 0; i < 20; i++) s.nudge(q);
        s.check(d);
    }
}
