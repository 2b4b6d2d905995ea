package dev.visor.vmm;

import dev.visor.block.BlockImages;
import dev.visor.block.ImageInfo;
import dev.visor.images.GuestImage;
import dev.visor.images.ImageException;
import dev.visor.images.ImageStore;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Snapshots of a VM that is built but never run (its RAM holds the loaded kernel and initrd): what
 * the directory holds, how disks are frozen, and how a broken snapshot or a wrong option is refused
 * with one line and nothing left behind.
 */
class SnapshotTest {
    static final long MEMORY = 128L << 20;

    @TempDir
    Path dir;

    private GuestImage image;
    private Path writable, readOnly, snap;

    @BeforeEach
    void snapshotOfABuiltVm() throws Exception {
        try {
            image = new ImageStore().defaultImage(System.err);
        } catch (ImageException e) {
            image = null;
        }
        assumeTrue(image != null, "the default guest image cannot be obtained");
        writable = dir.resolve("data.qcow2");
        BlockImages.create(writable, "qcow2", 8L << 20, null, null);
        readOnly = dir.resolve("ro.raw");
        BlockImages.create(readOnly, "raw", 4L << 20, null, null);
        VmSpec spec = new VmSpec(1, MEMORY, image.kernel(), image.initrd(), image.firmware(), VmSpec.DEFAULT_APPEND,
                new VmSpec.Devices(List.of(new DiskSpec(writable, null, false), new DiskSpec(readOnly, "raw", true)),
                        List.of(), true, false, null, null));
        VirtualMachine vm = VirtualMachine.build(spec, new ByteArrayOutputStream());
        try {
            vm.pause();
            snap = dir.resolve("snap");
            Snapshot.Created c = Snapshot.create(vm, snap, true);
            assertTrue(c.ramBytes() > 0 && c.ramBytes() < MEMORY, "only non-zero pages: " + c.ramBytes());
            Path live = dir.resolve("data-snap.qcow2");
            assertEquals(live, c.liveDisks().get(0), "the running VM writes to an overlay beside the image");
            assertNull(c.liveDisks().get(1), "a read-only disk is not frozen");
            assertEquals(live, vm.spec().devices().disks().get(0).path());
            ImageInfo info = BlockImages.info(live);
            assertEquals(writable.toString(), info.backingFile());
            assertEquals(readOnly, vm.spec().devices().disks().get(1).path());
            assertThrows(IOException.class, () -> Snapshot.create(vm, snap, true), "a snapshot is never overwritten");
        } finally {
            vm.stop();
        }
        assertFalse(Files.exists(dir.resolve("snap.tmp")));
    }

    @Test
    void restoresFromTheManifestOnNewOverlays() throws Exception {
        String manifest = Files.readString(snap.resolve("manifest"));
        assertTrue(manifest.startsWith("visor-snapshot 1\n"), manifest);
        assertTrue(manifest.contains("disk0.path=" + writable + "\n") && manifest.contains("disk0.readonly=false"), manifest);
        assertTrue(manifest.contains("disk1.path=" + readOnly + "\n") && manifest.contains("disk1.readonly=true"), manifest);
        assertTrue(manifest.contains("memory=" + MEMORY + "\n"), manifest);
        assertEquals(MEMORY, Files.size(snap.resolve("ram")));

        Path overlays = dir.resolve("clone");
        VirtualMachine vm = Snapshot.restore(snap, Snapshot.RestoreOptions.DEFAULT.withOverlayDir(overlays), new ByteArrayOutputStream());
        try {
            assertTrue(vm.isPaused(), "a restored VM waits to be resumed");
            assertTrue(vm.board().memory.isFileBacked());
            Path vda = vm.spec().devices().disks().get(0).path();
            assertEquals(overlays.resolve("vda.qcow2"), vda);
            assertEquals(writable.toString(), BlockImages.info(vda).backingFile());
            assertEquals(readOnly, vm.spec().devices().disks().get(1).path(), "a read-only disk is used as it is");
            // RAM: the kernel the built VM had loaded, at the start of RAM + 2 MiB (fw_jump's kernel address)
            byte[] kernel = Files.readAllBytes(image.kernel());
            byte[] got = new byte[4096];
            vm.board().memory.read(0x8020_0000L, got, 0, got.length);
            assertEquals(java.util.Arrays.toString(java.util.Arrays.copyOf(kernel, 4096)), java.util.Arrays.toString(got));
        } finally {
            vm.stop();
        }
    }

    @Test
    void aBrokenSnapshotIsRefusedWithOneLineAndNothingLeftBehind() throws Exception {
        refused("no snapshot at", s -> deleteTree(s));
        refused("manifest", s -> delete(s.resolve("manifest")));
        refused("is not a Visor snapshot manifest", s -> write(s.resolve("manifest"), "garbage\n"));
        refused("has no cpus", s -> rewrite(s.resolve("manifest"), m -> m.replaceAll("cpus=1\n", "")));
        refused("format 9", s -> rewrite(s.resolve("manifest"), m -> m.replace("visor-snapshot 1", "visor-snapshot 9")));
        refused("state", s -> delete(s.resolve("state")));
        refused("checksum", s -> flipByte(s.resolve("state"), 20));
        refused("RAM", s -> delete(s.resolve("ram")));
        refused("has " + (MEMORY / 2) + " bytes", s -> truncate(s.resolve("ram"), MEMORY / 2));
        refused("disk image", s -> delete(writable));
    }

    @Test
    void aRestoreOfAnotherShapeIsRefused() throws Exception {
        Path overlays = dir.resolve("o");
        var memory = new Snapshot.RestoreOptions(overlays, null, false, null, null, null, 256L << 20);
        VmConfigException e = assertThrows(VmConfigException.class, () -> Snapshot.restore(snap, memory, new ByteArrayOutputStream()));
        assertTrue(e.getMessage().contains("RAM size"), e.getMessage());
        var cpus = new Snapshot.RestoreOptions(overlays, null, false, null, null, 2, null);
        e = assertThrows(VmConfigException.class, () -> Snapshot.restore(snap, cpus, new ByteArrayOutputStream()));
        assertTrue(e.getMessage().contains("2"), e.getMessage());
        var nets = new Snapshot.RestoreOptions(overlays, List.of(NetSpec.parse("user")), false, null, null, null, null);
        e = assertThrows(VmConfigException.class, () -> Snapshot.restore(snap, nets, new ByteArrayOutputStream()));
        assertTrue(e.getMessage().contains("network cards"), e.getMessage());
        // a manifest that lies about the RAM size is caught by the RAM file, then by the state's shape
        rewrite(snap.resolve("manifest"), m -> m.replace("memory=" + MEMORY, "memory=" + (MEMORY * 2)));
        truncate(snap.resolve("ram"), MEMORY * 2);
        e = assertThrows(VmConfigException.class, () -> Snapshot.restore(snap, Snapshot.RestoreOptions.DEFAULT.withOverlayDir(overlays),
                new ByteArrayOutputStream()));
        assertTrue(e.getMessage().contains("--memory"), e.getMessage());
        assertFalse(Files.exists(overlays), "nothing left behind");
    }

    /** Breaks a copy of the snapshot with {@code damage}; the restore must fail naming {@code expected}, leaving nothing. */
    private void refused(String expected, IoAction damage) throws Exception {
        Path copy = dir.resolve("broken");
        deleteTree(copy);
        Files.createDirectories(copy);
        for (String f : List.of("manifest", "state", "ram")) Files.copy(snap.resolve(f), copy.resolve(f));
        Path saved = dir.resolve("saved-data.qcow2");
        Files.copy(writable, saved, StandardCopyOption.REPLACE_EXISTING);
        Path overlays = dir.resolve("overlays");
        Path socket = dir.resolve("control.sock");
        try {
            damage.run(copy);
            var options = new Snapshot.RestoreOptions(overlays, null, false, socket, null, null, null);
            VmConfigException e = assertThrows(VmConfigException.class, () -> Snapshot.restore(copy, options, new ByteArrayOutputStream()));
            assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
            assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
            assertFalse(Files.exists(overlays), "no overlay left behind");
            assertFalse(Files.exists(socket), "no control socket: nothing started");
        } finally {
            Files.copy(saved, writable, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    @FunctionalInterface
    private interface IoAction { void run(Path p) throws IOException; }

    private static void delete(Path p) throws IOException { Files.delete(p); }

    private static void write(Path p, String s) throws IOException { Files.writeString(p, s); }

    private static void rewrite(Path p, java.util.function.UnaryOperator<String> f) throws IOException {
        Files.writeString(p, f.apply(Files.readString(p)));
    }

    private static void flipByte(Path p, long at) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0x40);
        }
    }

    private static void truncate(Path p, long size) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(q);
        }
    }

}
