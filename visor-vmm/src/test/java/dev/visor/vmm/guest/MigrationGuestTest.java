package dev.visor.vmm.guest;

import dev.visor.images.DataDisk;
import dev.visor.images.GuestImage;
import dev.visor.images.ImageException;
import dev.visor.images.ImageStore;
import dev.visor.vmm.DiskSpec;
import dev.visor.vmm.VirtualMachine;
import dev.visor.vmm.VmSpec;
import dev.visor.vmm.migration.MigrationDestination;
import dev.visor.vmm.migration.MigrationException;
import dev.visor.vmm.migration.MigrationProgress;
import dev.visor.vmm.migration.MigrationSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A real Debian guest live-migrated over TCP on this machine, with one boot: while it counts in RAM
 * and appends numbered lines to a file on an ext4 disk (shared storage: the destination opens the
 * same image), a destination of another RAM size refuses it, a destination that hangs up after a
 * few megabytes fails it, and each time the guest runs on at the source; then a real destination
 * takes it, and the counter goes on without a reset, uptime goes on, the shell answers, and the
 * file holds every number in order. Last the guest, now idle, moves once more to give the figures
 * for an idle 512 MiB guest.
 */
class MigrationGuestTest {
    static final Duration T = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    @Test
    void guestMigratesAndSurvivesFailedMigrations() throws Exception {
        GuestImage image;
        try {
            image = new ImageStore().defaultImage(System.err);
        } catch (ImageException e) {
            image = null;
        }
        assumeTrue(image != null, "the default guest image cannot be obtained");
        Path disk = dir.resolve("data.raw");
        try {
            DataDisk.createExt4(disk, 64L << 20, null);
        } catch (ImageException e) {
            assumeTrue(false, "cannot make an ext4 image: " + e.getMessage());
        }
        VmSpec.Devices devices = new VmSpec.Devices(List.of(new DiskSpec(disk, "raw", false)), List.of(), true, false, null, null);
        VirtualMachine second = null, third = null;
        try (BootedGuest g = BootedGuest.boot(image, devices)) {
            // written aside and renamed: a reader (or a snapshot) never sees the file between truncate and write
            g.run("(i=0; while true; do i=$((i+1)); echo $i > /tmp/counter.new; mv /tmp/counter.new /tmp/counter; sleep 0.2; done) >/dev/null 2>&1 &");
            g.run("mount /dev/vda /mnt");
            g.run("(n=0; while [ ! -e /tmp/stop ]; do n=$((n+1)); echo $n >> /mnt/seq; sleep 0.05; done) >/dev/null 2>&1 &");
            g.run("sleep 1");
            VmSpec spec = g.vm.spec();

            // 1. a destination with other RAM refuses before anything moves; the guest runs on
            VmSpec smaller = new VmSpec(spec.cpus(), 256L << 20, spec.kernel(), spec.initrd(), spec.firmware(), spec.append(), spec.devices());
            MigrationDestination refusing = MigrationDestination.listen(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            CompletableFuture<Throwable> refused = CompletableFuture.supplyAsync(() -> {
                try {
                    refusing.accept(smaller, OutputStream.nullOutputStream(), System.err::println).stop();
                    return null;
                } catch (Exception e) {
                    return e;
                }
            });
            long c0 = counter(g.console);
            MigrationException mismatch = assertThrows(MigrationException.class, () -> migrate(g.vm, refusing.port(), new MigrationProgress()));
            assertTrue(mismatch.getMessage().contains("refused") && mismatch.getMessage().contains("memory"), mismatch.getMessage());
            assertTrue(refused.get(30, TimeUnit.SECONDS) instanceof MigrationException, "the destination failed too");
            assertFalse(g.vm.isPaused());
            g.run("sleep 0.5");
            assertTrue(counter(g.console) > c0, "the guest counts on after a refused migration");

            // 2. a destination that hangs up mid-stream (after 8 MB of round 0): the guest runs on
            try (ServerSocket hangUp = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                CompletableFuture<Void> fake = CompletableFuture.runAsync(() -> {
                    try (Socket s = hangUp.accept()) {
                        DataInputStream in = new DataInputStream(s.getInputStream());
                        in.readUnsignedByte();
                        in.readLong();
                        in.readInt(); // version
                        in.readInt(); // flags
                        in.readFully(new byte[in.readInt()]);
                        s.getOutputStream().write(2); // ACCEPT
                        in.readFully(new byte[8 << 20]);
                    } catch (IOException e) {
                        throw new IllegalStateException(e);
                    }
                });
                long c1 = counter(g.console);
                MigrationProgress p = new MigrationProgress();
                MigrationException cut = assertThrows(MigrationException.class, () -> migrate(g.vm, hangUp.getLocalPort(), p));
                fake.get(30, TimeUnit.SECONDS);
                System.err.println("cut migration: " + cut.getMessage() + "; " + p);
                assertEquals(MigrationProgress.Phase.FAILED, p.phase());
                assertFalse(g.vm.isPaused());
                assertFalse(g.vm.board().memory.isDirtyLogging(), "dirty logging is off again");
                assertEquals(0, g.vm.board().harts.throttle());
                assertEquals("still here", g.run("echo still here"));
                g.run("sleep 0.5");
                assertTrue(counter(g.console) > c1, "the guest counts on after a cut migration");
            }

            // 3. the real move
            g.run("sleep 1");
            long before = counter(g.console);
            double uptimeBefore = uptime(g.console);
            GuestConsole console2 = new GuestConsole();
            MigrationDestination dest = MigrationDestination.listen(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            List<String> destLog = new java.util.concurrent.CopyOnWriteArrayList<>();
            CompletableFuture<VirtualMachine> arriving = CompletableFuture.supplyAsync(() -> {
                try {
                    return dest.accept(spec, console2, line -> {
                        System.err.println(line);
                        destLog.add(line);
                    });
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            MigrationSource.Result busy = migrate(g.vm, dest.port(), new MigrationProgress());
            second = arriving.get(30, TimeUnit.SECONDS);
            assertTrue(g.vm.isPaused(), "the source stays paused after the switch-over");
            assertTrue(destLog.stream().anyMatch(l -> l.contains("switch-over here: built ahead")),
                    "the destination built the VM (its disk a placeholder) while the RAM came: " + destLog);
            // the wall-clock instants logged for benchmarks: the pause they span is the guest's, within the downtime figure
            // (which starts at the pause request, before the vCPUs stop, and adds READY's trip)
            long pausedMicros = second.resumedAtMicros() - g.vm.stoppedAtMicros();
            assertTrue(pausedMicros > 0 && pausedMicros <= busy.downtimeMillis() * 1000 + 1000,
                    "stopped " + g.vm.stoppedAtMicros() + " to resumed " + second.resumedAtMicros() + " against downtime " + busy.downtimeMillis() + " ms");
            String resumedField = "resumed_at_us=" + second.resumedAtMicros();
            assertTrue(destLog.stream().anyMatch(l -> l.contains(resumedField)), "the destination logs its resume: " + destLog);
            g.vm.stop();
            console2.connect(second::consoleInput);
            assertEquals("hello", console2.run("echo hello", T));
            long after = counter(console2);
            assertTrue(after >= before, "the counter continues from " + before + ", not reset: " + after);
            console2.run("sleep 1", T);
            long later = counter(console2);
            assertTrue(later > after, "the counter keeps counting at the destination: " + after + " then " + later);
            double uptimeAfter = uptime(console2);
            assertTrue(uptimeAfter > uptimeBefore && uptimeAfter < uptimeBefore + 60, "uptime goes on: " + uptimeBefore + " then " + uptimeAfter);
            console2.run("touch /tmp/stop; sleep 0.5; sync", T);
            String seq = console2.run("awk 'NR!=$1{print \"gap at line \" NR \": \" $0; exit} END{print \"lines \" NR}' /mnt/seq", T);
            assertTrue(seq.startsWith("lines "), "the file written during the migration is contiguous: " + seq);
            int lines = Integer.parseInt(seq.substring(6).trim());
            assertTrue(lines > 40, "the disk loop ran through the migration: " + lines + " lines");
            console2.run("umount /mnt", T);
            System.err.println("MIGRATION busy guest (counter + disk loop), 512 MiB: " + busy + "; counter " + before + " -> "
                    + after + " -> " + later + "; " + lines + " lines on disk");

            // 4. the figures for an idle guest: the same guest, its loops stopped, moved once more
            console2.run("kill %1 2>/dev/null; pkill -f 'sleep 0.2' ; sleep 2", T);
            GuestConsole console3 = new GuestConsole();
            MigrationDestination dest3 = MigrationDestination.listen(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            CompletableFuture<VirtualMachine> arriving3 = CompletableFuture.supplyAsync(() -> {
                try {
                    return dest3.accept(spec, console3, System.err::println);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            MigrationSource.Result idle = migrate(second, dest3.port(), new MigrationProgress());
            third = arriving3.get(30, TimeUnit.SECONDS);
            second.stop();
            console3.connect(third::consoleInput);
            assertEquals("idle ok", console3.run("echo idle ok", T));
            System.err.println("MIGRATION idle guest, 512 MiB: " + idle);
        } finally {
            if (second != null) second.stop();
            if (third != null) third.stop();
        }
    }

    private static MigrationSource.Result migrate(VirtualMachine vm, int port, MigrationProgress p) throws MigrationException {
        return MigrationSource.migrate(vm, new InetSocketAddress(InetAddress.getLoopbackAddress(), port),
                MigrationSource.Options.DEFAULT, p, System.err::println);
    }

    private static long counter(GuestConsole c) throws Exception {
        return Long.parseLong(c.run("cat /tmp/counter", T).trim());
    }

    private static double uptime(GuestConsole c) throws Exception {
        return Double.parseDouble(c.run("cut -d' ' -f1 /proc/uptime", T).trim());
    }
}
