package dev.visor.images;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InitramfsBuilderTest {
    private static final byte[] BUSYBOX = "\u007fELF fake busybox".getBytes(StandardCharsets.ISO_8859_1);

    private static InitramfsBuilder builder() {
        return new InitramfsBuilder(BUSYBOX)
                .module("virtio_mmio", new byte[] {1, 2, 3})
                .module("virtio-rng", new byte[] {4, 5});
    }

    private static byte[] build(InitramfsBuilder builder) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        builder.writeTo(out);
        return out.toByteArray();
    }

    @Test
    void holdsTheGuestRoot() throws IOException {
        Map<String, TestArchives.Entry> entries = TestArchives.readGzipCpio(build(builder()));

        for (String dir : List.of("bin", "sbin", "proc", "sys", "dev", "lib/modules", "etc", "tmp", "root", "mnt")) {
            assertEquals(040000, entries.get(dir).mode() & 0170000, dir + " is a directory");
        }
        assertEquals(0100755, entries.get("bin/busybox").mode());
        assertArrayEquals(BUSYBOX, entries.get("bin/busybox").content());
        assertArrayEquals(new byte[] {1, 2, 3}, entries.get("lib/modules/virtio_mmio.ko").content());
        assertArrayEquals(new byte[] {4, 5}, entries.get("lib/modules/virtio-rng.ko").content());
        assertEquals(020600, entries.get("dev/console").mode());
        assertEquals(5, entries.get("dev/console").rdevMajor());
        assertEquals(1, entries.get("dev/console").rdevMinor());
        assertEquals(0100755, entries.get("init").mode());
        assertEquals(0100755, entries.get(InitramfsBuilder.UDHCPC_SCRIPT).mode());
    }

    @Test
    void initLoadsTheModulesInOrderAndEndsWithTheMarkerAndTheShell() throws IOException {
        Map<String, TestArchives.Entry> entries = TestArchives.readGzipCpio(build(builder()));
        String init = new String(entries.get("init").content(), StandardCharsets.UTF_8);

        assertTrue(init.startsWith("#!/bin/busybox sh\n"));
        assertTrue(init.contains("mount -t devtmpfs dev /dev"));
        assertTrue(init.contains("for m in virtio_mmio virtio-rng; do\n"));
        assertTrue(init.contains("  insmod /lib/modules/$m.ko 2>>/tmp/insmod.log\n"));
        assertTrue(init.contains("udhcpc -i eth0 -q -s /" + InitramfsBuilder.UDHCPC_SCRIPT));
        List<String> lines = init.strip().lines().toList();
        assertEquals("echo \"" + InitramfsBuilder.READY_MARKER + "\"", lines.get(lines.size() - 2));
        assertEquals("exec setsid cttyhack sh", lines.getLast());
        assertFalse(init.contains("@"), "every placeholder is filled");
    }

    @Test
    void initMountsTheDataDiskNamedOnTheKernelCommandLine() {
        String init = builder().initScript();
        assertTrue(init.contains("visor.data=*) data=${arg#" + InitramfsBuilder.DATA_DISK_OPTION + "}"), init);
        assertTrue(init.contains("mount \"$data\" /mnt"));
        // The mount comes after the modules (ext4, virtio_blk) and before the marker.
        assertTrue(init.indexOf("insmod") < init.indexOf("mount \"$data\""));
        assertTrue(init.indexOf("mount \"$data\"") < init.indexOf(InitramfsBuilder.READY_MARKER));
    }

    @Test
    void udhcpcScriptConfiguresAddressRouteAndResolver() {
        String script = InitramfsBuilder.udhcpcScript();
        assertTrue(script.contains("ip addr add"));
        assertTrue(script.contains("ip route add default via"));
        assertTrue(script.contains("/etc/resolv.conf"));
    }

    @Test
    void extraFilesGetTheirParentDirectories() throws IOException {
        Map<String, TestArchives.Entry> entries = TestArchives.readGzipCpio(
                build(builder().file("/usr/share/visor/motd", 0644, "hi\n".getBytes(StandardCharsets.UTF_8))));
        assertEquals(040755, entries.get("usr").mode());
        assertEquals(040755, entries.get("usr/share/visor").mode());
        assertEquals(0100644, entries.get("usr/share/visor/motd").mode());
    }

    @Test
    void buildIsReproducible() throws IOException {
        assertArrayEquals(build(builder()), build(builder()));
    }
}
