package dev.visor.vmm.guest;

import dev.visor.block.BlockImages;
import dev.visor.images.DataDisk;
import dev.visor.images.GuestImage;
import dev.visor.vmm.DiskSpec;
import dev.visor.vmm.VmSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Disks as the guest sees them, with Debian's kernel and its virtio-blk driver. Two boots of one VM
 * with four disks: the first writes, the second (a new VM on the same images) reads back.
 * <ul>
 *   <li>vda: a raw ext4 image made on the host with mke2fs -d;
 *   <li>vdb: a qcow2 overlay made by Visor on a raw ext4 backing file, which must stay byte-identical;
 *   <li>vdc: a qcow2 made by {@code qemu-img create}, written raw by the guest;
 *   <li>vdd: a raw image grown while the VM runs (seen without a reboot).
 * </ul>
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DiskGuestTest {

    @TempDir
    Path dir;


    @Test
    void filesSurviveAPowerOffOnRawQcow2OverlayAndQemuImgImages() throws Exception {
        GuestImage image = BootedGuest.defaultImage();
        assumeTrue(qemuImgExists(), "qemu-img is not installed");
        Path content = Files.createDirectories(dir.resolve("content"));
        Files.writeString(content.resolve("hello.txt"), "made on the host\n");
        Path ext4 = dir.resolve("data.raw");
        DataDisk.createExt4(ext4, 64L << 20, content);
        Path base = dir.resolve("base.raw");
        DataDisk.createExt4(base, 64L << 20, content);
        String baseHash = sha256(base);
        Path overlay = dir.resolve("overlay.qcow2");
        BlockImages.create(overlay, "qcow2", -1, base, "raw");
        Path foreign = dir.resolve("foreign.qcow2");
        run("qemu-img", "create", "-q", "-f", "qcow2", foreign.toString(), "32M");
        Path growing = dir.resolve("grow.raw");
        BlockImages.create(growing, "raw", 16L << 20, null, null);

        VmSpec.Devices devices = new VmSpec.Devices(List.of(
                new DiskSpec(ext4, null, false), new DiskSpec(overlay, null, false),
                new DiskSpec(foreign, "qcow2", false), new DiskSpec(growing, null, false)),
                List.of(), true, false, null, dir.resolve("control.sock"));

        String randomHash;
        try (BootedGuest g = BootedGuest.boot(image, devices)) {
            assertEquals("made on the host", g.run("mount /dev/vda /mnt && cat /mnt/hello.txt"));
            g.run("echo written by the guest > /mnt/guest.txt && umount /mnt");
            g.run("mkdir /o && mount /dev/vdb /o");
            assertEquals("made on the host", g.run("cat /o/hello.txt"));
            g.run("echo on the overlay > /o/new.txt && umount /o");
            g.run("dd if=/dev/urandom of=/tmp/r bs=64k count=16 2>/dev/null");
            randomHash = g.run("sha256sum < /tmp/r").split(" ")[0];
            g.run("dd if=/tmp/r of=/dev/vdc bs=64k 2>/dev/null && sync");

            assertEquals(String.valueOf(16 * 2048), g.run("cat /sys/block/vdd/size"));
            assertEquals("ok vdd 50331648", control(dir.resolve("control.sock"), "resize vdd 48M"));
            assertTrue(control(dir.resolve("control.sock"), "resize vdd 1M").startsWith("error: shrinking"));
            String size = "";
            for (int i = 0; i < 50 && !size.equals(String.valueOf(48 * 2048)); i++) {
                size = g.run("cat /sys/block/vdd/size");
                if (!size.equals(String.valueOf(48 * 2048))) Thread.sleep(100);
            }
            assertEquals(String.valueOf(48 * 2048), size, "the guest did not see the grown disk");
            assertEquals("rng ok", g.run("head -c 64 /dev/hwrng | wc -c | sed 's/^ *64$/rng ok/'"));
            assertEquals(0, g.powerOff());
        }
        assertEquals(baseHash, sha256(base), "the overlay's backing file changed");
        for (Path q : List.of(overlay, foreign)) {
            assertEquals(0, run("qemu-img", "check", "-q", q.toString()), "qemu-img check " + q);
        }
        assertEquals(48L << 20, Files.size(growing));

        try (BootedGuest g = BootedGuest.boot(image, devices)) {
            assertEquals("written by the guest", g.run("mount /dev/vda /mnt && cat /mnt/guest.txt"));
            assertEquals("on the overlay", g.run("mkdir /o && mount /dev/vdb /o && cat /o/new.txt"));
            assertEquals(randomHash, g.run("dd if=/dev/vdc bs=64k count=16 2>/dev/null | sha256sum").split(" ")[0]);
            g.run("umount /mnt && umount /o");
            assertEquals(0, g.powerOff());
        }
        // What the guest wrote to the qemu-img image is what QEMU's own tools read from it.
        Path exported = dir.resolve("foreign.raw");
        assertEquals(0, run("qemu-img", "convert", "-O", "raw", foreign.toString(), exported.toString()));
        byte[] first = new byte[1 << 20];
        System.arraycopy(Files.readAllBytes(exported), 0, first, 0, first.length);
        assertEquals(randomHash, HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(first)));
        assertEquals(baseHash, sha256(base), "the overlay's backing file changed");
    }

    /** One command over the VM's control socket, as `visor control` sends it. */
    static String control(Path socket, String command) throws Exception {
        try (var ch = java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            ch.connect(java.net.UnixDomainSocketAddress.of(socket));
            ch.write(java.nio.charset.StandardCharsets.UTF_8.encode(command + "\n"));
            return new java.io.BufferedReader(new java.io.InputStreamReader(java.nio.channels.Channels.newInputStream(ch))).readLine();
        }
    }

    static boolean qemuImgExists() {
        try {
            return run("qemu-img", "--version") == 0;
        } catch (Exception e) {
            return false;
        }
    }

    static int run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", command) + " did not finish");
        }
        if (p.exitValue() != 0) System.err.println(String.join(" ", command) + ": " + out);
        return p.exitValue();
    }

    static String sha256(Path file) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (var in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) md.update(buf, 0, n);
        }
        return HexFormat.of().formatHex(md.digest());
    }

}
