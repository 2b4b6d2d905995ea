package dev.visor.vmm.guest;

import dev.visor.block.BlockImages;
import dev.visor.images.DataDisk;
import dev.visor.images.GuestImage;
import dev.visor.images.ImageException;
import dev.visor.images.ImageStore;
import dev.visor.vmm.DiskSpec;
import dev.visor.vmm.VirtualMachine;
import dev.visor.vmm.VmSpec;
import dev.visor.vmm.migration.DirtyTrackingBackend;
import dev.visor.vmm.migration.MigrationDestination;
import dev.visor.vmm.migration.MigrationException;
import dev.visor.vmm.migration.MigrationProgress;
import dev.visor.vmm.migration.MigrationSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Storage migration (copy-storage) of a real Debian guest, with one boot: while it appends numbered
 * lines to a file on an ext4 disk and syncs after each (so the disk changes during the copy), a migration whose connection is cut during the disk copy fails
 * (the guest runs on at the source on its own image, the partial copy is deleted); then a migration
 * to a destination naming another, not yet existing qcow2 file moves it. The destination's guest
 * sees every line with no gap and the same random blob; after it stops, its image passes
 * {@code e2fsck -fn} and the file read from the image is the sequence the guest saw.
 */
class StorageMigrationGuestTest {
    static final Duration T = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    @Test
    void guestMovesWithItsDiskCopiedAndSurvivesACutCopy() throws Exception {
        GuestImage image;
        try {
            image = new ImageStore().defaultImage(System.err);
        } catch (ImageException e) {
            image = null;
        }
        assumeTrue(image != null, "the default guest image cannot be obtained");
        Path e2fsck = tool("e2fsck"), debugfs = tool("debugfs");
        Path disk = dir.resolve("data.raw");
        try {
            DataDisk.createExt4(disk, 64L << 20, null);
        } catch (ImageException e) {
            assumeTrue(false, "cannot make an ext4 image: " + e.getMessage());
        }
        VmSpec.Devices devices = new VmSpec.Devices(List.of(new DiskSpec(disk, "raw", false)), List.of(), true, false, null, null);
        VirtualMachine second = null;
        try (BootedGuest g = BootedGuest.boot(image, devices)) {
            g.run("mount /dev/vda /mnt");
            g.run("dd if=/dev/urandom of=/mnt/blob bs=1M count=8 2>/dev/null; sync");
            String blob = g.run("md5sum /mnt/blob | cut -d' ' -f1").trim();
            g.run("(n=0; while [ ! -e /tmp/stop ]; do n=$((n+1)); echo $n >> /mnt/seq; sync; sleep 0.02; done) >/dev/null 2>&1 &");
            g.run("sleep 1");
            VmSpec spec = g.vm.spec();

            // 1. the connection is cut after 4 MB, in the middle of the disk copy
            Path partial = dir.resolve("partial.raw");
            VmSpec partialSpec = spec.withDevices(withDisk(spec.devices(), new DiskSpec(partial, null, false)));
            MigrationDestination dest1 = MigrationDestination.listen(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            CompletableFuture<Throwable> failed = CompletableFuture.supplyAsync(() -> {
                try {
                    dest1.accept(partialSpec, OutputStream.nullOutputStream(), System.err::println).stop();
                    return null;
                } catch (Exception e) {
                    return e;
                }
            });
            long lines0 = lines(g);
            MigrationProgress cutProgress = new MigrationProgress();
            try (CuttingProxy proxy = new CuttingProxy(dest1.port(), 4L << 20)) {
                MigrationException cut = assertThrows(MigrationException.class,
                        () -> migrate(g.vm, proxy.port(), cutProgress));
                System.err.println("cut storage migration: " + cut.getMessage() + "; " + cutProgress);
            }
            assertInstanceOf(MigrationException.class, failed.get(60, TimeUnit.SECONDS), "the destination failed too");
            assertTrue(cutProgress.diskBytesCopied() < cutProgress.diskBytesTotal(),
                    "cut during the disk copy: " + cutProgress);
            assertFalse(Files.exists(partial), "the partial copy is deleted");
            assertFalse(g.vm.isPaused());
            assertFalse(g.vm.disks().getFirst().disk() instanceof DirtyTrackingBackend, "the disk is its own image again");
            g.run("sleep 0.5");
            assertTrue(lines(g) > lines0, "the guest writes on to its disk after the cut migration");

            // 2. the real move, into another file, qcow2, that does not exist yet
            Path copy = dir.resolve("copy.qcow2");
            VmSpec destSpec = spec.withDevices(withDisk(spec.devices(), new DiskSpec(copy, "qcow2", false)));
            GuestConsole console2 = new GuestConsole();
            MigrationDestination dest = MigrationDestination.listen(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            CompletableFuture<VirtualMachine> arriving = CompletableFuture.supplyAsync(() -> {
                try {
                    return dest.accept(destSpec, console2, System.err::println);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            long linesBefore = lines(g);
            MigrationProgress progress = new MigrationProgress();
            MigrationSource.Result r = migrate(g.vm, dest.port(), progress);
            second = arriving.get(60, TimeUnit.SECONDS);
            assertTrue(g.vm.isPaused(), "the source stays paused after the switch-over");
            g.vm.stop();
            console2.connect(second::consoleInput);
            assertEquals("hello", console2.run("echo hello", T));
            assertEquals(copy, second.spec().devices().disks().getFirst().path());
            assertEquals(blob, console2.run("md5sum /mnt/blob | cut -d' ' -f1", T).trim(), "the blob came over intact");
            console2.run("sleep 1", T);
            console2.run("touch /tmp/stop; sleep 0.5; sync", T);
            String seq = console2.run("awk 'NR!=$1{print \"gap at line \" NR \": \" $0; exit} END{print \"lines \" NR}' /mnt/seq", T);
            assertTrue(seq.startsWith("lines "), "the file written during the migration is contiguous: " + seq);
            int lines = Integer.parseInt(seq.substring(6).trim());
            assertTrue(lines > linesBefore, "the disk loop ran on through the migration: " + linesBefore + " then " + lines + " lines");
            console2.run("umount /mnt", T);
            second.stop();
            second = null;
            System.err.println("STORAGE MIGRATION 512 MiB guest, 64 MiB ext4 disk (raw -> new qcow2): " + r + "; " + progress
                    + "; " + lines + " lines on disk");

            // 3. the copy on its own: a clean file system, and the file the guest saw
            Path raw = dir.resolve("copy-check.raw");
            BlockImages.convert(copy, "qcow2", raw, "raw", null);
            Process fsck = new ProcessBuilder(e2fsck.toString(), "-fn", raw.toString()).redirectErrorStream(true).start();
            String fsckOut = new String(fsck.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(fsck.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, fsck.exitValue(), "e2fsck -fn on the destination's image:\n" + fsckOut);
            Process cat = new ProcessBuilder(debugfs.toString(), "-R", "cat /seq", raw.toString()).start();
            String content = new String(cat.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(cat.waitFor(60, TimeUnit.SECONDS));
            StringBuilder expected = new StringBuilder();
            for (int i = 1; i <= lines; i++) expected.append(i).append('\n');
            assertEquals(expected.toString(), content, "the file in the destination's image");
        } finally {
            if (second != null) second.stop();
        }
    }

    private static MigrationSource.Result migrate(VirtualMachine vm, int port, MigrationProgress p) throws MigrationException {
        return MigrationSource.migrate(vm, new InetSocketAddress(InetAddress.getLoopbackAddress(), port),
                MigrationSource.Options.DEFAULT.withCopyStorage(true), p, System.err::println);
    }

    private static long lines(BootedGuest g) throws Exception {
        return Long.parseLong(g.run("wc -l < /mnt/seq").trim());
    }

    private static VmSpec.Devices withDisk(VmSpec.Devices d, DiskSpec disk) {
        return new VmSpec.Devices(List.of(disk), d.nets(), d.rng(), d.balloon(), d.consolePort(), d.controlSocket());
    }

    private static Path tool(String name) {
        for (String d : List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin")) {
            Path p = Path.of(d, name);
            if (Files.isExecutable(p)) return p;
        }
        assumeTrue(false, name + " is not installed");
        return null;
    }

    /** Forwards one connection to the destination, and cuts both ways after {@code limit} bytes from the source. */
    private static final class CuttingProxy implements AutoCloseable {
        private final ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        private final Thread thread;

        CuttingProxy(int destPort, long limit) throws IOException {
            thread = Thread.ofPlatform().start(() -> {
                try (Socket from = server.accept(); Socket to = new Socket(InetAddress.getLoopbackAddress(), destPort)) {
                    Thread back = Thread.ofPlatform().start(() -> pump(to, from, Long.MAX_VALUE));
                    pump(from, to, limit);
                    from.close();
                    to.close();
                    back.join();
                } catch (IOException | InterruptedException e) {
                    // the cut itself
                }
            });
        }

        int port() { return server.getLocalPort(); }

        private static void pump(Socket a, Socket b, long limit) {
            byte[] buf = new byte[64 << 10];
            long n = 0;
            try {
                InputStream in = a.getInputStream();
                OutputStream out = b.getOutputStream();
                while (n < limit) {
                    int k = in.read(buf, 0, (int) Math.min(buf.length, limit - n));
                    if (k < 0) return;
                    out.write(buf, 0, k);
                    n += k;
                }
            } catch (IOException ignored) {
                // closed
            }
        }

        @Override
        public void close() throws Exception {
            server.close();
            thread.join(10_000);
        }
    }
}
