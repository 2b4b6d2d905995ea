package dev.visor.vmm.guest;

import dev.visor.images.GuestImage;
import dev.visor.net.l2.SwitchPort;
import dev.visor.net.l2.SwitchServer;
import dev.visor.net.user.DhcpService;
import dev.visor.vmm.NetSpec;
import dev.visor.vmm.VmSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two Debian guests on one {@code visor switch} with its DHCP service: both get addresses by DHCP,
 * ping each other and move a file with busybox nc.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SwitchGuestTest {
    private static final Pattern INET = Pattern.compile("inet (10\\.0\\.3\\.\\d+)/24");

    @TempDir
    Path dir;


    @Test
    void twoVmsOnASwitchGetAddressesPingAndMoveAFile() throws Exception {
        GuestImage image = BootedGuest.defaultImage();
        Path socket = dir.resolve("switch.sock");
        try (SwitchServer sw = SwitchServer.start(socket);
             DhcpService dhcp = DhcpService.start(SwitchPort.connect(socket), "10.0.3.0/24")) {
            VmSpec.Devices devices = new VmSpec.Devices(List.of(), List.of(NetSpec.parse("switch:" + socket)),
                    false, false, null, null);
            CompletableFuture<BootedGuest> bootB = CompletableFuture.supplyAsync(() -> {
                try {
                    return BootedGuest.boot(image, devices);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            try (BootedGuest a = BootedGuest.boot(image, devices); BootedGuest b = bootB.join()) {
                String ipA = address(a), ipB = address(b);
                assertNotEquals(ipA, ipB, "both VMs got the same address");
                String ping = a.run("ping -c 2 -W 5 " + ipB, Duration.ofSeconds(60));
                assertTrue(ping.contains("2 packets received"), "ping from " + ipA + " to " + ipB + ":\n" + ping);

                b.run("nc -l -p 5000 > /tmp/got &");
                a.run("dd if=/dev/urandom of=/tmp/f bs=1k count=256 2>/dev/null");
                String sent = a.run("sha256sum < /tmp/f").split(" ")[0];
                a.run("nc -w 3 " + ipB + " 5000 < /tmp/f", Duration.ofSeconds(120));
                String got = "";
                for (int i = 0; i < 50 && !got.equals(sent); i++) {
                    got = b.run("sha256sum < /tmp/got").split(" ")[0];
                    if (!got.equals(sent)) Thread.sleep(200);
                }
                assertEquals(sent, got, "the file moved with nc differs");
                assertTrue(sw.stats().forwarded() > 0, "the switch forwarded nothing");
            }
        }
    }

    /** Waits for DHCP to configure eth0 and returns its address. */
    private static String address(BootedGuest g) throws Exception {
        for (int i = 0; i < 150; i++) {
            Matcher m = INET.matcher(g.run("ip -4 addr show eth0"));
            if (m.find()) return m.group(1);
            Thread.sleep(200);
        }
        throw new AssertionError("DHCP did not configure eth0 on the switch:\n" + g.run("cat /tmp/udhcpc.log"));
    }
}
