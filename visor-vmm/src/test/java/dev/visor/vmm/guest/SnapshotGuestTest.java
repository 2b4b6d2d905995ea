package dev.visor.vmm.guest;

import dev.visor.block.BlockImages;
import dev.visor.images.DataDisk;
import dev.visor.images.GuestImage;
import dev.visor.machine.HostMemory;
import dev.visor.vmm.DiskSpec;
import dev.visor.vmm.NetSpec;
import dev.visor.vmm.Snapshot;
import dev.visor.vmm.VirtualMachine;
import dev.visor.vmm.VmSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;

import static dev.visor.vmm.guest.DiskGuestTest.control;
import static dev.visor.vmm.guest.DiskGuestTest.qemuImgExists;
import static dev.visor.vmm.guest.DiskGuestTest.run;
import static dev.visor.vmm.guest.DiskGuestTest.sha256;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A real Debian guest snapshotted through its control socket while it counts and writes to an ext4
 * disk, then restored twice from that snapshot as {@code visor run --restore} does (RAM mapped
 * copy-on-write, a new overlay per disk, a new MAC per card): each clone goes on counting from where
 * the snapshot stood, its uptime goes on, its disk holds what the guest wrote (even what was not yet
 * synced), the snapshot's disk image never changes, and the two clones together use far less memory
 * than two copies of the guest.
 */
class SnapshotGuestTest {
    static final Duration T = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    @Test
    void snapshotRestoresAndClonesShareMemory() throws Exception {
        GuestImage image = BootedGuest.defaultImage();
        assumeTrue(qemuImgExists(), "qemu-img is not installed");
        Path content = Files.createDirectories(dir.resolve("content"));
        Files.writeString(content.resolve("hello.txt"), "made on the host\n");
        Path raw = dir.resolve("data.raw");
        DataDisk.createExt4(raw, 64L << 20, content);
        Path disk = dir.resolve("data.qcow2");
        BlockImages.convert(raw, "raw", disk, "qcow2", null);
        Path socket = dir.resolve("control.sock");
        VmSpec.Devices devices = new VmSpec.Devices(List.of(new DiskSpec(disk, null, false)),
                List.of(NetSpec.parse("user")), true, false, null, socket);
        Path snap = dir.resolve("snap");

        long before;
        double uptimeBefore;
        String savedMac;
        HostMemory.Usage original;
        long originalResident; // mincore: exact for anonymous RAM, which the kernel may merge with a neighbouring mapping in smaps
        String frozenHash;
        try (BootedGuest g = BootedGuest.boot(image, devices)) {
            // written aside and renamed: a reader (or a snapshot) never sees the file between truncate and write
            g.run("(i=0; while true; do i=$((i+1)); echo $i > /tmp/counter.new; mv /tmp/counter.new /tmp/counter; sleep 0.2; done) >/dev/null 2>&1 &");
            assertEquals("made on the host", g.run("mount /dev/vda /mnt && cat /mnt/hello.txt"));
            g.run("echo synced > /mnt/synced.txt && sync");
            g.run("echo in the page cache > /mnt/unsynced.txt"); // dirty in guest RAM at the snapshot
            savedMac = g.run("cat /sys/class/net/eth0/address");
            g.run("sleep 1");
            before = Long.parseLong(g.run("cat /tmp/counter").trim());
            uptimeBefore = uptime(g.console);
            assertTrue(before >= 3, "the counter runs: " + before);
            original = g.vm.board().memory.usage();
            originalResident = g.vm.board().memory.residentBytes();
            assertEquals("ok running", control(socket, "status"));
            assertEquals("ok paused", control(socket, "pause"));
            assertEquals("ok paused", control(socket, "status"));
            assertEquals("ok running", control(socket, "resume"));

            String answer = control(socket, "snapshot " + snap);
            assertTrue(answer.startsWith("ok " + snap), answer);
            System.err.println("snapshot: " + answer + "; original VM's RAM: " + original);
            assertTrue(control(socket, "snapshot " + snap).startsWith("error: "), "a snapshot is never overwritten");
            assertEquals("ok running", control(socket, "status"));
            frozenHash = sha256(disk);
            // the original goes on, on its new overlay; the frozen image does not change
            Path live = dir.resolve("data-snap.qcow2");
            assertTrue(Files.exists(live), "the running VM's overlay");
            g.run("echo after the snapshot > /mnt/after.txt && sync");
            assertTrue(Long.parseLong(g.run("cat /tmp/counter").trim()) > before);
            g.vm.stop();
            assertEquals(frozenHash, sha256(disk), "the original VM wrote to the frozen image");
            assertEquals(0, run("qemu-img", "check", "-q", live.toString()));
        }
        assertEquals(0, run("qemu-img", "check", "-q", disk.toString()), "qemu-img check of the frozen image");
        for (String f : List.of("manifest", "state", "ram")) assertTrue(Files.exists(snap.resolve(f)), f);
        assertTrue(Files.readString(snap.resolve("manifest")).contains("disk0.path=" + disk.toAbsolutePath()), "the manifest names the frozen image");
        long ramAllocated = allocatedBytes(snap.resolve("ram"));
        assertTrue(ramAllocated < (VmSpec.DEFAULT_MEMORY * 3 / 4), "the RAM file is sparse: " + ramAllocated + " bytes allocated");

        VirtualMachine a = null, b = null;
        try {
            GuestConsole ca = new GuestConsole();
            long t0 = System.nanoTime();
            a = Snapshot.restore(snap, Snapshot.RestoreOptions.DEFAULT.withOverlayDir(dir.resolve("a")), ca);
            ca.connect(a::consoleInput);
            a.start();
            long restoreNanos = System.nanoTime() - t0;
            System.err.printf("restore of a %d MiB guest: %.1f ms (call to resumed)%n", VmSpec.DEFAULT_MEMORY >> 20, restoreNanos / 1e6);
            assertTrue(restoreNanos < 2_000_000_000L, "restore took " + restoreNanos / 1e6 + " ms");
            assertTrue(a.board().memory.isFileBacked(), "the RAM is the snapshot's file, mapped");

            long after = Long.parseLong(ca.run("cat /tmp/counter", T).trim());
            assertTrue(after >= before && after < before + 50, "the counter continues from " + before + ": " + after);
            ca.run("sleep 1", T);
            long later = Long.parseLong(ca.run("cat /tmp/counter", T).trim());
            assertTrue(later > after, "the counter keeps counting: " + after + " then " + later);
            double uptimeAfter = uptime(ca);
            assertTrue(uptimeAfter > uptimeBefore && uptimeAfter < uptimeBefore + 60, "uptime " + uptimeBefore + " then " + uptimeAfter);
            // from the disk, not the guest's page cache
            ca.run("sync && echo 3 > /proc/sys/vm/drop_caches", T);
            assertEquals("synced", ca.run("cat /mnt/synced.txt", T));
            assertEquals("in the page cache", ca.run("cat /mnt/unsynced.txt", T));
            assertEquals("no", ca.run("test -e /mnt/after.txt && echo yes || echo no", T), "the clone sees the disk as it was at the snapshot");
            ca.run("dd if=/dev/urandom of=/mnt/clone-a.bin bs=64k count=32 2>/dev/null && sync", T);

            // the second clone, side by side with the first
            GuestConsole cb = new GuestConsole();
            b = Snapshot.restore(snap, Snapshot.RestoreOptions.DEFAULT.withOverlayDir(dir.resolve("b")), cb);
            cb.connect(b::consoleInput);
            b.start();
            long bc = Long.parseLong(cb.run("cat /tmp/counter", T).trim());
            assertTrue(bc >= before && bc < before + 50, "the second clone's counter continues from " + before + ": " + bc);
            cb.run("sync && echo 3 > /proc/sys/vm/drop_caches", T);
            assertEquals("no", cb.run("test -e /mnt/clone-a.bin && echo yes || echo no", T), "clones do not share writes");
            assertEquals("in the page cache", cb.run("cat /mnt/unsynced.txt", T));

            // each card has a new MAC in its configuration space; Linux read the old one at probe
            String macA = mac(a), macB = mac(b);
            assertNotEquals(savedMac, macA);
            assertNotEquals(macA, macB);
            assertEquals(savedMac, cb.run("cat /sys/class/net/eth0/address", T), "the running driver keeps the MAC it probed");
            String dev = cb.run("basename $(readlink /sys/class/net/eth0/device)", T);
            cb.run("echo " + dev + " > /sys/bus/virtio/drivers/virtio_net/unbind; echo " + dev + " > /sys/bus/virtio/drivers/virtio_net/bind", T);
            assertEquals(macB, cb.run("cat /sys/class/net/eth0/address", T), "a re-probed driver reads the new MAC");

            ca.run("sleep 2", T);
            HostMemory.Usage ua = a.board().memory.usage(), ub = b.board().memory.usage();
            assertNotNull(original);
            assertNotNull(ua);
            System.err.printf("memory: original %s; clone a %s; clone b %s; clones' pss together %d MiB (vs 2 x %d MiB)%n",
                    original, ua, ub, (ua.pss() + ub.pss()) >> 20, originalResident >> 20);
            assertTrue(originalResident > (32L << 20), "the original VM's resident RAM: " + originalResident);
            assertTrue(ua.pss() + ub.pss() < originalResident * 3 / 2,
                    "two clones should use well below twice one VM's memory: " + ua + " + " + ub + " vs " + (originalResident >> 20) + " MiB");

            a.stop();
            b.stop();
            assertEquals(frozenHash, sha256(disk), "the clones wrote to the frozen image");
            for (Path q : List.of(disk, dir.resolve("a/vda.qcow2"), dir.resolve("b/vda.qcow2"))) {
                assertEquals(0, run("qemu-img", "check", "-q", q.toString()), "qemu-img check " + q);
            }
        } finally {
            if (a != null) a.stop();
            if (b != null) b.stop();
        }
    }

    private static String mac(VirtualMachine vm) {
        byte[] m = new byte[6];
        for (int i = 0; i < 6; i++) m[i] = (byte) vm.nets().getFirst().readConfig(i, 1);
        return HexFormat.ofDelimiter(":").formatHex(m);
    }

    static long allocatedBytes(Path file) throws Exception {
        Process p = new ProcessBuilder("stat", "-c", "%b %B", file.toString()).start();
        String[] w = new String(p.getInputStream().readAllBytes()).trim().split(" ");
        p.waitFor();
        return Long.parseLong(w[0]) * Long.parseLong(w[1]);
    }

    private static double uptime(GuestConsole c) throws Exception {
        return Double.parseDouble(c.run("cut -d' ' -f1 /proc/uptime", T).trim());
    }
}
