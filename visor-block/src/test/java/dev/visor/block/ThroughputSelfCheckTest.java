package dev.visor.block;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A small throughput self-check (no timing assertion, since the machine is shared): sequential
 * 128 KiB writes into a new qcow2 image, rewrites in place, then reads, through native memory as
 * virtio-blk will pass it. Prints MB/s so a regression is visible in the test log.
 */
class ThroughputSelfCheckTest {
    @TempDir Path dir;

    @Test
    void sequentialWriteRewriteRead() throws IOException {
        Path image = dir.resolve("t.qcow2");
        int total = 32 << 20;
        int request = 128 << 10;
        BlockImages.create(image, "qcow2", total, null, null);
        try (BlockBackend disk = BlockImages.open(image, null, false); Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(request, 4096);
            for (int i = 0; i < request; i += 8) buf.set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, i, 0x0123456789abcdefL + i);
            String alloc = pass(disk, buf, total, true);
            String rewrite = pass(disk, buf, total, true);
            String read = pass(disk, buf, total, false);
            assertEquals(0x0123456789abcdefL + 8, buf.get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 8));
            System.out.println("qcow2 throughput (32 MiB, 128 KiB requests): allocating write " + alloc
                    + ", rewrite " + rewrite + ", read " + read);
        }
    }

    private static String pass(BlockBackend disk, MemorySegment buf, int total, boolean write) throws IOException {
        long start = System.nanoTime();
        for (long off = 0; off < total; off += buf.byteSize()) {
            if (write) disk.write(off, buf);
            else disk.read(off, buf);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return String.format("%.0f MB/s", total / 1e6 / seconds);
    }
}
