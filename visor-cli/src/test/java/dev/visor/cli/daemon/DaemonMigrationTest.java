package dev.visor.cli.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Live migration between two hosts' daemons (two daemon processes with separate state and image
 * stores, so the disk is copied too): the guest's counter goes on at the destination without a
 * gap or a reset, a file it wrote before the move is there after it, the destination owns the VM
 * and its disk, and the source has forgotten it.
 */
class DaemonMigrationTest {
    @TempDir
    Path dir;

    @AfterEach
    void killLeftovers() {
        DaemonProcess.killVmms(dir);
    }

    @Test
    void aRunningGuestMovesToAnotherDaemonWithItsDisk() throws Exception {
        assumeTrue(DaemonEndToEndTest.defaultImageCached(), "no default image in the cache");
        try (DaemonProcess source = DaemonProcess.start(dir.resolve("host1"));
             DaemonProcess dest = DaemonProcess.start(dir.resolve("host2"))) {
            String a1 = source.adminToken(), a2 = dest.adminToken();
            source.ok(201, "POST", "/api/v1/images", a1, "{\"name\":\"disk.raw\",\"format\":\"raw\",\"size\":\"32M\"}");
            source.ok(201, "POST", "/api/v1/vms", a1, """
                    {"name":"mover","memory":"256M","nets":["none"],"disks":[{"image":"disk.raw"}]}""");
            source.ok(200, "POST", "/api/v1/vms/mover/start", a1, null);
            long before;
            try (DaemonEndToEndTest.Console c = DaemonEndToEndTest.Console.open(source.url, "mover", a1)) {
                c.await("visor: shell ready", 180);
                c.type("echo moved-data > /dev/vda; sync; (i=0; while true; do i=$((i+1)); echo N=$i; sleep 0.3; done) &\n");
                c.await("N=5", 60);
                before = lastCount(c.seen());
            }

            JsonNode result = source.ok(200, "POST", "/api/v1/vms/mover/migrate", a1,
                    "{\"destination\":\"" + dest.url + "\",\"token\":\"" + a2 + "\",\"copyStorage\":true}");
            assertTrue(result.get("downtimeMs").asDouble() > 0, result.toString());
            assertEquals(404, source.call("GET", "/api/v1/vms/mover", a1, null).status(), "the source forgot the VM");

            JsonNode vm = dest.awaitVm("mover", a2, v -> v.get("state").asText().equals("running"), 60, "ran at the destination");
            assertEquals("disk.raw", vm.get("disks").get(0).get("image").asText());
            assertTrue(Files.exists(dir.resolve("host2/images/disk.raw")), "the disk was copied into the destination's store");
            try (DaemonEndToEndTest.Console c = DaemonEndToEndTest.Console.open(dest.url, "mover", a2)) {
                c.await("N=" + (before + 3), 60);
                c.type("head -c 10 /dev/vda; echo\n");
                c.await("moved-data", 30);
                // the scroll-back the destination shows continues the count from before the move
                String seen = c.seen();
                int firstAfter = seen.indexOf("N=" + (before + 1));
                assertTrue(firstAfter >= 0 || seen.contains("N=" + (before + 2)), seen);
            }
            JsonNode destVm = dest.ok(200, "POST", "/api/v1/vms/mover/shutdown", a2, null);
            assertEquals("stopped", destVm.get("state").asText());
        }
    }

    /** The last N=... the guest printed. */
    private static long lastCount(String console) {
        Matcher m = Pattern.compile("N=(\\d+)").matcher(console);
        long last = -1;
        while (m.find()) last = Long.parseLong(m.group(1));
        return last;
    }
}
