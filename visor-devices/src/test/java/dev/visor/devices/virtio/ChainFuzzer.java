package dev.visor.devices.virtio;

import dev.visor.devices.virtio.FakeDriver.Buf;

import java.util.Random;

import static dev.visor.devices.virtio.FakeDriver.*;

/**
 * Puts random and hostile descriptor chains on a {@link FakeDriver}'s queue, as a malicious guest
 * could. Each {@link Kind} says whether the device must reject it (DEVICE_NEEDS_RESET) or may serve
 * it; well-formed buffers always lie in the driver's own area, so a device that writes anywhere else
 * is caught by the fuzz test's canaries.
 */
final class ChainFuzzer {
    enum Kind {
        GOOD(false), GOOD_INDIRECT(false), ZERO_LENGTH(false), RANDOM(false),
        LOOP(true), NEXT_OUT_OF_RANGE(true), HEAD_OUT_OF_RANGE(true), HUGE_LENGTH(true), PAST_RAM(true),
        NEGATIVE_ADDRESS(true), OVERFLOWING_ADDRESS(true), STRADDLING_END(true), BELOW_RAM(true),
        NESTED_INDIRECT(true), INDIRECT_WITH_NEXT(true), INDIRECT_BAD_LENGTH(true), INDIRECT_OUTSIDE_RAM(true),
        INDIRECT_LOOP(true), READABLE_AFTER_WRITABLE(true), AVAIL_JUMP(true);

        /** The device must refuse this chain whatever the features. */
        final boolean malformed;

        Kind(boolean malformed) { this.malformed = malformed; }
    }

    /** Fills a device-readable buffer; {@code first} for the first buffer of a request (a header). */
    interface Filler {
        void fill(Random rnd, byte[] buffer, boolean first);
    }

    private final Random rnd;
    private final FakeDriver d;
    private final Filler filler;
    /**
     * The payload is a list of guest addresses (the balloon's frame numbers): readable buffers then
     * keep 4-byte units, lest a byte-shifted number name a page outside the driver's area, and
     * never point into the rings, whose bytes would be read as frame numbers.
     */
    private final boolean payloadNamesMemory;
    private final long ram, end;

    ChainFuzzer(Random rnd, FakeDriver d, Filler filler, boolean payloadNamesMemory) {
        this.rnd = rnd;
        this.d = d;
        this.filler = filler;
        this.payloadNamesMemory = payloadNamesMemory;
        ram = d.memory.base();
        end = d.memory.end();
    }

    /** A kind, good ones more often than each hostile one. */
    Kind pick() {
        int r = rnd.nextInt(100);
        if (r < 20) return Kind.GOOD;
        if (r < 28) return Kind.GOOD_INDIRECT;
        if (r < 33) return Kind.ZERO_LENGTH;
        if (r < 48) return Kind.RANDOM;
        Kind[] hostile = Kind.values();
        return hostile[4 + rnd.nextInt(hostile.length - 4)];
    }

    /** Makes one chain of kind {@code k} available on queue {@code q}; true when the device must reject it. */
    boolean add(int q, Kind k, boolean indirect) {
        int size = d.queueSize(q);
        switch (k) {
            case GOOD -> d.submit(q, good(false));
            case ZERO_LENGTH -> d.submit(q, good(true));
            case GOOD_INDIRECT -> d.submitIndirect(q, good(false));
            case RANDOM -> random(q, size);
            case LOOP -> {
                int n = 1 + rnd.nextInt(3), first = d.takeDescriptors(q, n);
                for (int i = 0; i < n; i++) {
                    int next = i < n - 1 ? (first + i + 1) % size : (first + rnd.nextInt(i + 1)) % size;
                    d.desc(d.descTable(q), (first + i) % size, d.alloc(16), 16, F_NEXT, next);
                }
                d.publish(q, first);
            }
            case NEXT_OUT_OF_RANGE -> {
                int head = d.takeDescriptors(q, 1);
                d.desc(d.descTable(q), head, d.alloc(16), 16, F_NEXT, size + rnd.nextInt(65536 - size));
                d.publish(q, head);
            }
            case HEAD_OUT_OF_RANGE -> d.publish(q, size + rnd.nextInt(65536 - size));
            case HUGE_LENGTH -> withBad(q, indirect, d.alloc(64), rnd.nextBoolean() ? 0xffff_ffff : 0x0100_0000 | rnd.nextInt());
            case PAST_RAM -> withBad(q, indirect, end + rnd.nextInt(1 << 30), 1 + rnd.nextInt(4096));
            case NEGATIVE_ADDRESS -> withBad(q, indirect, rnd.nextBoolean() ? -1 - rnd.nextInt(1 << 20) : Long.MIN_VALUE + rnd.nextInt(4096), 16);
            case OVERFLOWING_ADDRESS -> withBad(q, indirect, rnd.nextBoolean() ? -4096 + rnd.nextInt(4096) : Long.MAX_VALUE - rnd.nextInt(64), 0x2000);
            case STRADDLING_END -> withBad(q, indirect, end - 1 - rnd.nextInt(64), 65 + rnd.nextInt(4096));
            case BELOW_RAM -> withBad(q, indirect, rnd.nextBoolean() ? 0 : ram - 1 - rnd.nextInt(64), 65 + rnd.nextInt(4096));
            case NESTED_INDIRECT -> {
                long inner = table(good(false));
                long outer = d.alloc(16);
                d.desc(outer, 0, inner, 16, F_INDIRECT, 0);
                indirectHead(q, outer, 16, F_INDIRECT);
            }
            case INDIRECT_WITH_NEXT -> {
                Buf[] bufs = good(false);
                indirectHead(q, table(bufs), 16 * bufs.length, F_INDIRECT | F_NEXT);
            }
            case INDIRECT_BAD_LENGTH -> {
                int[] lengths = {0, 8, 24, 16 * (1 + rnd.nextInt(8)) + 1 + rnd.nextInt(15), 16 * 4096};
                indirectHead(q, d.alloc(16 * 4096), lengths[rnd.nextInt(lengths.length)], F_INDIRECT);
            }
            case INDIRECT_OUTSIDE_RAM -> {
                long[] at = {end - 16, end + rnd.nextInt(1 << 20), ram - 16, -16};
                indirectHead(q, at[rnd.nextInt(at.length)], 32, F_INDIRECT);
            }
            case INDIRECT_LOOP -> {
                long t = d.alloc(32);
                d.desc(t, 0, d.alloc(16), 16, F_NEXT, 1);
                d.desc(t, 1, d.alloc(16), 16, F_NEXT, rnd.nextInt(2));
                indirectHead(q, t, 32, F_INDIRECT);
            }
            case READABLE_AFTER_WRITABLE -> {
                Buf[] bufs = {Buf.in(d.alloc(16), 16), readable(16, false)};
                if (indirect && rnd.nextBoolean()) d.submitIndirect(q, bufs);
                else d.submit(q, bufs);
            }
            case AVAIL_JUMP -> {
                // one store that moves the index by more than the queue size past anything the device
                // may already have taken (publishing a good chain first let a device still running from
                // an earlier kick take it, and then the jump could be exactly the queue size: legal)
                d.setAvailIdx(q, d.availIdx(q) + size + 1 + rnd.nextInt(1000));
            }
        }
        return k.malformed || (k == Kind.GOOD_INDIRECT && !indirect);
    }

    /** 1 to 6 buffers in the driver's data area, readable ones first; mostly both kinds, as requests are. */
    private Buf[] good(boolean allowEmpty) {
        int r = rnd.nextInt(4) == 0 ? 0 : 1 + rnd.nextInt(3), w = rnd.nextInt(4) == 0 ? 0 : 1 + rnd.nextInt(3);
        if (r + w == 0) w = 1;
        Buf[] bufs = new Buf[r + w];
        for (int i = 0; i < bufs.length; i++) {
            int len = allowEmpty && rnd.nextInt(3) == 0 ? 0 : length(i == 0);
            bufs[i] = i < r ? readable(len, i == 0) : Buf.in(d.alloc(len), len);
        }
        return bufs;
    }

    private int length(boolean first) {
        int len = switch (rnd.nextInt(5)) {
            case 0 -> first || rnd.nextBoolean() ? 16 : 1; // a request header; or a status byte
            case 1 -> 1 + rnd.nextInt(64);
            case 2 -> 512;
            case 3 -> 12 + 1514;
            default -> 1 + rnd.nextInt(4096);
        };
        return payloadNamesMemory ? len & -4 : len;
    }

    private Buf readable(int len, boolean first) {
        byte[] b = new byte[len];
        filler.fill(rnd, b, first);
        return Buf.out(d.put(b), len);
    }

    /** A good chain with one buffer replaced by {@code (addr, len)}, maybe inside an indirect table. */
    private void withBad(int q, boolean indirect, long addr, int len) {
        Buf[] bufs = good(false);
        int i = rnd.nextInt(bufs.length);
        bufs[i] = new Buf(addr, len, bufs[i].writable());
        if (indirect && rnd.nextBoolean()) d.submitIndirect(q, bufs);
        else d.submit(q, bufs);
    }

    private long table(Buf[] bufs) {
        long t = d.alloc(16 * bufs.length);
        for (int i = 0; i < bufs.length; i++) {
            boolean last = i == bufs.length - 1;
            d.desc(t, i, bufs[i].addr(), bufs[i].len(), (bufs[i].writable() ? F_WRITE : 0) | (last ? 0 : F_NEXT), last ? 0 : i + 1);
        }
        return t;
    }

    private void indirectHead(int q, long table, int len, int flags) {
        int head = d.takeDescriptors(q, 2);
        d.desc(d.descTable(q), head, table, len, flags, (head + 1) % d.queueSize(q));
        d.desc(d.descTable(q), (head + 1) % d.queueSize(q), d.alloc(16), 16, F_WRITE, 0);
        d.publish(q, head);
    }

    /** 1 to 4 descriptors with random fields; addresses never legal outside the driver's area. */
    private void random(int q, int size) {
        int n = 1 + rnd.nextInt(4), first = d.takeDescriptors(q, n);
        for (int i = 0; i < n; i++) {
            int len = switch (rnd.nextInt(4)) {
                case 0 -> 0;
                case 1 -> payloadNamesMemory ? 4 * (1 + rnd.nextInt(1024)) : 1 + rnd.nextInt(4096);
                case 2 -> 0xffff_ffff;
                default -> 0x0100_0000 | rnd.nextInt(); // at least 16 MiB: never fits in RAM
            };
            long addr = switch (rnd.nextInt(6)) {
                case 0 -> end + rnd.nextInt(1 << 16);
                case 1 -> rnd.nextLong();
                // ring memory of a queue slot no device uses: writing into the live rings is legal and
                // could rewrite a later chain of this batch, which then need not be rejected any more
                case 2 -> payloadNamesMemory ? end + rnd.nextInt(4096) : d.ringAddress(7) + rnd.nextInt(4096);
                default -> {
                    byte[] junk = new byte[(int) Math.min(Integer.toUnsignedLong(len), 4096)];
                    filler.fill(rnd, junk, i == 0);
                    yield d.put(junk);
                }
            };
            int flags = rnd.nextInt(8) | (rnd.nextInt(8) == 0 ? rnd.nextInt(1 << 16) : 0);
            int next = rnd.nextBoolean() ? (first + i + 1) % size : rnd.nextInt(size + 4);
            d.desc(d.descTable(q), (first + i) % size, addr, len, flags, next);
        }
        d.publish(q, rnd.nextInt(16) == 0 ? rnd.nextInt(65536) : first);
    }
}
