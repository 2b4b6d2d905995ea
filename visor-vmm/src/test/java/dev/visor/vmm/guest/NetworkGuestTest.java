package dev.visor.vmm.guest;

import com.sun.net.httpserver.HttpServer;
import dev.visor.images.GuestImage;
import dev.visor.vmm.NetSpec;
import dev.visor.vmm.VmSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * User-mode NAT and the memory balloon, seen from a Debian guest: DHCP configures eth0, the guest
 * fetches a file from an HTTP server on the host through NAT, a host client reaches the guest's
 * busybox httpd through a port forward, output to the virtio-console port reaches its file, and inflating the balloon gives guest RAM back to the host.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NetworkGuestTest {


    @Test
    void natDhcpWgetPortForwardAndBalloon() throws Exception {
        GuestImage image = BootedGuest.defaultImage();
        byte[] file = new byte[1 << 20];
        new Random(42).nextBytes(file);
        HttpServer http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        http.createContext("/file", ex -> {
            ex.sendResponseHeaders(200, file.length);
            try (var out = ex.getResponseBody()) {
                out.write(file);
            }
        });
        http.start();
        int forwarded = freePort();
        java.nio.file.Path portFile = java.nio.file.Files.createTempFile("visor-hvc0", ".log");
        VmSpec.Devices devices = new VmSpec.Devices(List.of(),
                List.of(NetSpec.parse("user,hostfwd=tcp:127.0.0.1:" + forwarded + "-:8080")), true, true, portFile, null);
        try (BootedGuest g = BootedGuest.boot(image, devices)) {
            String addr = "";
            for (int i = 0; i < 100 && !addr.contains("10.0.2.15"); i++) {
                addr = g.run("ip -4 addr show eth0");
                if (!addr.contains("10.0.2.15")) Thread.sleep(200);
            }
            assertTrue(addr.contains("inet 10.0.2.15/24"), "DHCP did not configure eth0:\n" + addr);
            assertTrue(g.run("ip route").contains("default via 10.0.2.2"), "no default route through the gateway");

            int port = http.getAddress().getPort();
            String out = g.run("wget -q -O /tmp/f http://10.0.2.2:" + port + "/file && sha256sum /tmp/f", Duration.ofSeconds(120));
            assertEquals(sha256(file), out.split(" ")[0], "the file fetched through NAT differs");

            g.run("mkdir -p /www && echo served by the guest > /www/index.html && httpd -p 8080 -h /www");
            HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(20)).build();
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + forwarded + "/index.html"))
                    .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode());
            assertEquals("served by the guest\n", r.body());

            // The virtio-console port is /dev/hvc0 in the guest; its output lands in the file.
            g.run("echo through the console port > /dev/hvc0");
            String hvc0 = "";
            for (int i = 0; i < 50 && !hvc0.contains("through the console port"); i++) {
                hvc0 = java.nio.file.Files.readString(portFile);
                if (!hvc0.contains("through the console port")) Thread.sleep(100);
            }
            assertTrue(hvc0.contains("through the console port"), "hvc0 output: '" + hvc0 + "'");

            // Balloon: let the guest touch most of its RAM, then take 256 MiB back.
            g.run("mkdir /t && mount -t tmpfs -o size=400m none /t && dd if=/dev/zero of=/t/fill bs=1M count=380 2>/dev/null; rm /t/fill", Duration.ofSeconds(120));
            long before = g.vm.board().memory.residentBytes();
            assumeTrue(before >= 0, "mincore is not available");
            long inflate = 256L << 20;
            g.vm.balloon().setTargetPages(inflate / 4096);
            long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            while (g.vm.balloon().actualPages() < inflate / 4096 && System.nanoTime() < deadline) Thread.sleep(200);
            assertEquals(inflate / 4096, g.vm.balloon().actualPages(), "the guest did not inflate the balloon");
            long after = g.vm.board().memory.residentBytes();
            assertTrue(before - after >= inflate * 3 / 4,
                    "resident guest RAM went from " + (before >> 20) + " MiB to " + (after >> 20) + " MiB after inflating 256 MiB");
            assertEquals(0, g.powerOff());
        } finally {
            http.stop(0);
            java.nio.file.Files.deleteIfExists(portFile);
        }
    }

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static String sha256(byte[] data) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }
}
