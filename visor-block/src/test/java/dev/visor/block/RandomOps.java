package dev.visor.block;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;

/**
 * Drives a disk with a fixed-seed mix of reads, writes (unaligned, cluster-crossing, whole-cluster),
 * write-zeroes and discards, keeping an in-memory copy of what the guest must see.
 */
final class RandomOps {
    private final BlockBackend disk;
    /** What every byte of the disk must read as. */
    final byte[] model;
    private final Random rnd;
    private final int cluster;

    RandomOps(BlockBackend disk, byte[] initial, long seed, int cluster) {
        this.disk = disk;
        this.model = initial.clone();
        this.rnd = new Random(seed);
        this.cluster = cluster;
    }

    void run(int ops) throws IOException {
        for (int i = 0; i < ops; i++) {
            int kind = rnd.nextInt(100);
            int len = length();
            int off = offset(len, kind >= 90);
            if (kind < 45) {
                byte[] data = TestImages.random(rnd, len);
                TestImages.write(disk, off, data);
                System.arraycopy(data, 0, model, off, len);
            } else if (kind < 57) {
                assertArrayEquals(Arrays.copyOfRange(model, off, off + len), TestImages.read(disk, off, len),
                        "op " + i + ": read at " + off + " of " + len);
            } else if (kind < 61) {
                assertArrayEquals(Arrays.copyOfRange(model, off, off + len), scatteredRead(off, len),
                        "op " + i + ": scattered read at " + off + " of " + len);
            } else if (kind < 65) {
                byte[] data = TestImages.random(rnd, len);
                scatteredWrite(off, data);
                System.arraycopy(data, 0, model, off, len);
            } else if (kind < 78) {
                disk.writeZeroes(off, len);
                Arrays.fill(model, off, off + len, (byte) 0);
            } else if (kind < 90) {
                disk.discard(off, len);
                // Discarded bytes may read as before or as zeros; whatever they read must stay so.
                byte[] now = TestImages.read(disk, off, len);
                for (int k = 0; k < len; k++) {
                    int at = k;
                    assertTrue(now[k] == 0 || now[k] == model[off + k], () -> "op: discarded byte at " + (off + at) + " reads garbage");
                }
                System.arraycopy(now, 0, model, off, len);
            } else {
                byte[] data = TestImages.random(rnd, len);
                TestImages.write(disk, off, data);
                System.arraycopy(data, 0, model, off, len);
            }
        }
        assertArrayEquals(model, TestImages.readAll(disk), "whole disk after the run");
    }

    /**
     * Reads len bytes at off with readInto, as virtio-blk passes a request: in pieces (random lengths,
     * some odd) placed out of order in a native segment standing for guest RAM.
     */
    private byte[] scatteredRead(int off, int len) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            long[][] pieces = pieces(len);
            MemorySegment ram = arena.allocate(2L * len + 8192);
            disk.readInto(off, ram, pieces[0], pieces[1], pieces[0].length);
            byte[] got = new byte[len];
            int pos = 0;
            for (int i = 0; i < pieces[0].length; i++) {
                MemorySegment.copy(ram, ValueLayout.JAVA_BYTE, pieces[0][i], got, pos, (int) pieces[1][i]);
                pos += (int) pieces[1][i];
            }
            return got;
        }
    }

    /** Writes data at off with writeFrom, from pieces placed as {@link #scatteredRead} places them. */
    private void scatteredWrite(int off, byte[] data) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            long[][] pieces = pieces(data.length);
            MemorySegment ram = arena.allocate(2L * data.length + 8192);
            int pos = 0;
            for (int i = 0; i < pieces[0].length; i++) {
                MemorySegment.copy(data, pos, ram, ValueLayout.JAVA_BYTE, pieces[0][i], (int) pieces[1][i]);
                pos += (int) pieces[1][i];
            }
            disk.writeFrom(off, ram, pieces[0], pieces[1], pieces[0].length);
        }
    }

    /** Splits len bytes into pieces: {offsets in a RAM of 2 len + 8192 bytes, in reverse order, gaps between; lengths}. */
    private long[][] pieces(int len) {
        java.util.List<Long> lengths = new java.util.ArrayList<>();
        for (int left = len; left > 0; ) {
            int n = Math.min(left, rnd.nextBoolean() ? 4096 : 1 + rnd.nextInt(5000));
            lengths.add((long) n);
            left -= n;
        }
        int k = lengths.size();
        long[] at = new long[k], lens = new long[k];
        long place = 2L * len + 8192; // from the top down: the first piece lies highest
        for (int i = 0; i < k; i++) {
            lens[i] = lengths.get(i);
            place -= lens[i] + rnd.nextInt(2);
            at[i] = place;
        }
        return new long[][] {at, lens};
    }

    private int length() {
        return Math.min(model.length, pickLength());
    }

    private int pickLength() {
        return switch (rnd.nextInt(4)) {
            case 0 -> 1 + rnd.nextInt(600);                  // small, unaligned
            case 1 -> 512 * (1 + rnd.nextInt(16));           // sector multiples
            case 2 -> cluster * (1 + rnd.nextInt(3));        // whole clusters
            default -> 1 + rnd.nextInt(3 * cluster + 1000);  // crossing clusters
        };
    }

    private int offset(int len, boolean aligned) {
        int max = model.length - Math.min(len, model.length);
        int off = rnd.nextInt(max + 1);
        if (aligned) off = off / cluster * cluster;
        return Math.max(0, Math.min(off, model.length - len));
    }
}
