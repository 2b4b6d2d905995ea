package dev.visor.vmm.migration;

import dev.visor.block.BlockBackend;
import dev.visor.block.BlockException;
import dev.visor.block.BlockImages;
import dev.visor.vmm.DiskSpec;
import dev.visor.vmm.VirtualMachine;
import dev.visor.vmm.VmSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The storage migration's parts without a VM: the dirty-chunk tracker, the mirror and the targets. */
class DiskMirrorTest {
    static final int CHUNK = MigrationProtocol.DISK_CHUNK;
    static final long SIZE = 16L * CHUNK + 4096; // a short last chunk

    @TempDir
    Path dir;

    @Test
    void trackerMarksChangedChunksAfterTheChange() throws IOException {
        Path img = dir.resolve("a.raw");
        BlockImages.create(img, "raw", SIZE, null, null);
        try (DirtyTrackingBackend t = new DirtyTrackingBackend(BlockImages.open(img, "raw", false), CHUNK)) {
            assertEquals(17, t.chunks());
            long[] bits = new long[t.bitmapWords()];
            t.write(CHUNK - 512, MemorySegment.ofArray(new byte[1024])); // straddles chunks 0 and 1
            t.read(5L * CHUNK, MemorySegment.ofArray(new byte[512]));    // reads mark nothing
            t.discard(3L * CHUNK, 512);
            t.writeZeroes(16L * CHUNK, 4096);                            // the short last chunk
            assertEquals(4, t.dirtyCount());
            assertEquals(4, t.fetchAndClearDirty(bits));
            assertEquals((1L << 0) | (1L << 1) | (1L << 3) | (1L << 16), bits[0]);
            assertEquals(0, t.dirtyCount(), "fetching clears");
            assertThrows(BlockException.class, () -> t.resize(2 * SIZE), "no resize while the copy has the old size");
        }
    }

    @Test
    void writesAfterAChunkWasSentAreSentAgain() throws IOException {
        Path src = randomImage("src.raw");
        Path dst = dir.resolve("copy.qcow2");
        ByteArrayOutputStream stream = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(stream);
        try (DirtyTrackingBackend t = new DirtyTrackingBackend(BlockImages.open(src, "raw", false), CHUNK)) {
            DiskMirror m = new DiskMirror(List.of(new DiskMirror.Disk(0, t)), out, n -> { });
            m.sendAll();
            long afterFirst = m.chunksSent();
            assertEquals(17, afterFirst);
            // the guest writes into chunks already sent: chunk 2 gets data, chunk 5 becomes zeros
            byte[] data = new byte[8192];
            new Random(7).nextBytes(data);
            t.write(2L * CHUNK + 4096, MemorySegment.ofArray(data));
            t.writeZeroes(5L * CHUNK, CHUNK);
            assertEquals(2, m.dirtyChunks());
            m.sendDirty();
            assertEquals(afterFirst + 2, m.chunksSent(), "exactly the changed chunks go again");
            assertEquals(0, m.dirtyChunks());
            m.sendDirty();
            assertEquals(afterFirst + 2, m.chunksSent(), "nothing changed: nothing sent");
        }
        DiskTargets targets = DiskTargets.prepare(spec(dst, "qcow2"), List.of(shapeDisk(src)));
        apply(targets, stream.toByteArray());
        VmSpec finished = targets.finish(spec(dst, null));
        assertEquals("qcow2", finished.devices().disks().getFirst().format());
        assertEquals("qcow2", BlockImages.detectFormat(dst));
        assertArrayEquals(contents(src, "raw"), contents(dst, "qcow2"));
    }

    @Test
    void copyMadeWhileAWriterRunsEndsEqual() throws Exception {
        Path src = randomImage("busy.raw");
        Path dst = dir.resolve("busy-copy.raw");
        ByteArrayOutputStream stream = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(stream);
        try (DirtyTrackingBackend t = new DirtyTrackingBackend(BlockImages.open(src, "raw", false), CHUNK)) {
            DiskMirror m = new DiskMirror(List.of(new DiskMirror.Disk(0, t)), out, n -> { });
            AtomicBoolean stop = new AtomicBoolean();
            Thread writer = Thread.ofPlatform().start(() -> {
                Random r = new Random(11);
                byte[] b = new byte[4096];
                try {
                    while (!stop.get()) {
                        long at = (long) r.nextInt((int) (SIZE / 512 - 8)) * 512;
                        if (r.nextInt(8) == 0) {
                            t.writeZeroes(at, 4096);
                        } else {
                            r.nextBytes(b);
                            t.write(at, MemorySegment.ofArray(b));
                        }
                    }
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            });
            m.sendAll();
            for (int i = 0; i < 5; i++) m.sendDirty();
            stop.set(true); // the guest pauses
            writer.join();
            m.sendDirty();  // stop-and-copy: the last changes
        }
        DiskTargets targets = DiskTargets.prepare(spec(dst, null), List.of(shapeDisk(src)));
        apply(targets, stream.toByteArray());
        targets.finish(spec(dst, null));
        assertArrayEquals(contents(src, "raw"), contents(dst, "raw"), "the copy equals the disk after the last round");
    }

    @Test
    void discardDeletesACreatedTargetAndRefusesTheSourceItself() throws IOException {
        Path src = randomImage("s.raw");
        Path dst = dir.resolve("partial.raw");
        DiskTargets targets = DiskTargets.prepare(spec(dst, null), List.of(shapeDisk(src)));
        assertTrue(Files.exists(dst));
        assertEquals(List.of(dst), targets.createdFiles());
        targets.discard();
        assertFalse(Files.exists(dst), "a partial copy is removed");

        MigrationException self = assertThrows(MigrationException.class, () -> DiskTargets.prepare(spec(src, null), List.of(shapeDisk(src))));
        assertTrue(self.getMessage().contains("source's own image"), self.getMessage());
        Path wrongSize = dir.resolve("small.raw");
        BlockImages.create(wrongSize, "raw", CHUNK, null, null);
        MigrationException size = assertThrows(MigrationException.class, () -> DiskTargets.prepare(spec(wrongSize, null), List.of(shapeDisk(src))));
        assertTrue(size.getMessage().contains("virtual size"), size.getMessage());
        assertTrue(Files.exists(wrongSize), "an existing file is never deleted");
    }

    @Test
    void targetRefusesChunksOutsideTheDisk() throws IOException {
        Path src = randomImage("r.raw");
        DiskTargets targets = DiskTargets.prepare(spec(dir.resolve("r-copy.raw"), null), List.of(shapeDisk(src)));
        try {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(b);
            out.writeByte(0);
            out.writeLong(SIZE); // past the end
            out.writeInt(512);
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(b.toByteArray()));
            assertThrows(MigrationException.class, () -> targets.receive(MigrationProtocol.DISK_ZERO, in));
        } finally {
            targets.discard();
        }
    }

    // ---- helpers

    private Path randomImage(String name) throws IOException {
        Path p = dir.resolve(name);
        byte[] b = new byte[(int) SIZE];
        Random r = new Random(name.hashCode());
        r.nextBytes(b);
        java.util.Arrays.fill(b, 4 * CHUNK, 7 * CHUNK, (byte) 0); // some zero chunks (sent as markers)
        Files.write(p, b);
        return p;
    }

    private static VirtualMachine.ShapeDisk shapeDisk(Path src) {
        return new VirtualMachine.ShapeDisk(src.toString(), "raw", SIZE, false, VirtualMachine.fileKey(src));
    }

    private static VmSpec spec(Path disk, String format) {
        return new VmSpec(1, 64L << 20, null, null, null, null,
                new VmSpec.Devices(List.of(new DiskSpec(disk, format, false)), List.of(), false, false, null, null));
    }

    private static void apply(DiskTargets targets, byte[] stream) throws IOException {
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(stream));
        while (true) {
            int type;
            try {
                type = in.readUnsignedByte();
            } catch (EOFException e) {
                return;
            }
            targets.receive(type, in);
        }
    }

    private static byte[] contents(Path image, String format) throws IOException {
        try (BlockBackend b = BlockImages.open(image, format, true)) {
            byte[] all = new byte[(int) b.size()];
            b.read(0, MemorySegment.ofArray(all));
            return all;
        }
    }
}
