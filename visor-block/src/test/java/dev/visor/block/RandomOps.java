package dev.visor.block;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
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
            } else if (kind < 65) {
                assertArrayEquals(Arrays.copyOfRange(model, off, off + len), TestImages.read(disk, off, len),
                        "op " + i + ": read at " + off + " of " + len);
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
