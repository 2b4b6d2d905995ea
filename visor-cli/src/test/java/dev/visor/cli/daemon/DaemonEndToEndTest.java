package dev.visor.cli.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The daemon as an operator uses it: a real {@code visor daemon} process, driven only through its
 * REST API, booting Debian's kernel in VMM processes of its own. One guest's life: defined, booted,
 * its console read and typed into over the WebSocket, paused and resumed, snapshotted, killed
 * behind the daemon's back (the restart policy brings it back), outliving a daemon restart
 * (re-attached, same process), and coming back by autostart after the daemon and the VM both
 * went down (as after a host crash); then shut down cleanly.
 */
class DaemonEndToEndTest {
    @TempDir
    Path dir;

    private Path state;

    @AfterEach
    void killLeftovers() {
        if (state != null) DaemonProcess.killVmms(state);
    }

    @Test
    void aGuestsLifeThroughTheApi() throws Exception {
        assumeTrue(defaultImageCached(), "no default image in the cache");
        state = dir.resolve("state");
        DaemonProcess d = DaemonProcess.start(state);
        try {
            String admin = d.adminToken();
            d.ok(201, "POST", "/api/v1/images", admin, "{\"name\":\"data.qcow2\",\"format\":\"qcow2\",\"size\":\"64M\"}");
            JsonNode vm = d.ok(201, "POST", "/api/v1/vms", admin, """
                    {"name":"web","memory":"256M","nets":["none"],"disks":[{"image":"data.qcow2"}],
                     "autostart":true,"restart":"on-failure"}""");
            assertEquals("stopped", vm.get("state").asText());
            assertEquals("visor-vm-" + vm.get("id").asLong(), vm.get("label").asText());

            // started: the call returns once the VMM answers; the console shows the guest's shell
            Events events = Events.open(d.url, admin);
            vm = d.ok(200, "POST", "/api/v1/vms/web/start", admin, null);
            assertEquals("running", vm.get("state").asText());
            long pid = vm.get("pid").asLong();
            try (Console console = Console.open(d.url, "web", admin)) {
                console.await("visor: shell ready", 180);
                console.type("echo $((6*7))-$(nproc)\n");
                console.await("42-1", 60);
            }

            // grown while it runs: the guest sees the new size at once
            JsonNode grown = d.ok(200, "POST", "/api/v1/vms/web/disks/vda/resize", admin, "{\"size\":\"128M\"}");
            assertEquals(128L << 20, grown.get("sizeBytes").asLong());
            try (Console console = Console.open(d.url, "web", admin)) {
                console.type("echo size=$(cat /sys/block/vda/size)\n");
                console.await("size=262144", 30);
            }

            // paused and resumed: the guest's uptime goes on
            assertEquals("paused", d.ok(200, "POST", "/api/v1/vms/web/pause", admin, null).get("state").asText());
            assertEquals("running", d.ok(200, "POST", "/api/v1/vms/web/resume", admin, null).get("state").asText());
            events.await("\"state\":\"paused\"", 10);
            events.await("\"detail\":\"resumed\"", 10);
            events.close();
            JsonNode snap = d.ok(201, "POST", "/api/v1/vms/web/snapshots", admin, "{\"name\":\"s1\"}");
            assertTrue(Files.exists(Path.of(snap.get("path").asText(), "ram")), snap.toString());
            assertEquals(1, d.ok(200, "GET", "/api/v1/vms/web/snapshots", admin, null).size());
            // the disk it wrote until now is the snapshot's; the VM goes on in an overlay on it
            JsonNode disk = d.ok(200, "GET", "/api/v1/vms/web", admin, null).get("disks").get(0);
            assertEquals("data-s1.qcow2", disk.get("image").asText());
            assertEquals(409, d.call("DELETE", "/api/v1/images/data.qcow2", admin, null).status(), "the snapshot needs it");

            // metrics while it runs: its instructions are counted
            String metrics = d.call("GET", "/metrics", admin, null).body();
            assertTrue(metrics.matches("(?s).*visor_vm_instructions_total\\{vm=\"web\"} [1-9].*"), metrics);

            // killed behind the daemon's back: on-failure starts it again, in a new process
            ProcessHandle.of(pid).orElseThrow().destroyForcibly();
            vm = d.awaitVm("web", admin, v -> v.get("state").asText().equals("running") && v.get("pid").asLong() != pid, 120,
                    "came back after a kill");
            assertEquals(1, vm.get("restarts").asInt());
            long pid2 = vm.get("pid").asLong();

            // the daemon restarts: the VM keeps running in the same process and is re-attached
            d.stop();
            assertTrue(ProcessHandle.of(pid2).map(ProcessHandle::isAlive).orElse(false), "the VMM died with the daemon");
            d = DaemonProcess.start(state);
            vm = d.awaitVm("web", admin, v -> v.get("state").asText().equals("running"), 30, "was re-attached");
            assertEquals(pid2, vm.get("pid").asLong());
            try (Console console = Console.open(d.url, "web", admin)) {
                console.type("echo again-$((7*6))\n");
                console.await("again-42", 60);
            }

            // daemon and VMM both go down (a host crash): the next daemon autostarts the VM
            d.process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            ProcessHandle vmm = ProcessHandle.of(pid2).orElseThrow();
            vmm.destroyForcibly();
            vmm.onExit().get(10, TimeUnit.SECONDS);
            d = DaemonProcess.start(state);
            vm = d.awaitVm("web", admin, v -> v.get("state").asText().equals("running") && v.get("pid").asLong() != pid2, 120,
                    "was autostarted");

            // a clean shutdown: the VMM exits 0 and the VM is stopped
            vm = d.ok(200, "POST", "/api/v1/vms/web/shutdown", admin, null);
            assertEquals("stopped", vm.get("state").asText());
            assertEquals(0, vm.get("exitCode").asInt());
            assertNotEquals(0, d.ok(200, "GET", "/api/v1/audit", admin, null).size());
            JsonNode audit = d.ok(200, "GET", "/api/v1/audit?limit=500", admin, null);
            boolean defineAudited = false;
            for (JsonNode a : audit) {
                if (a.get("path").asText().equals("/api/v1/vms") && a.get("method").asText().equals("POST")) {
                    defineAudited = a.get("who").asText().equals("admin") && a.get("status").asInt() == 201;
                }
            }
            assertTrue(defineAudited, "the define is in the audit log: " + audit);
        } finally {
            DaemonProcess.killVmms(state);
            d.close();
        }
    }

    static boolean defaultImageCached() {
        return System.getenv("VISOR_CACHE") == null
                && Files.exists(Path.of(System.getProperty("user.home"), ".cache", "visor", "images", "default", "Image"));
    }

    /** The daemon's server-sent event stream, read in the background. */
    static final class Events implements AutoCloseable {
        private final StringBuffer seen = new StringBuffer();
        private final Thread reader;
        private volatile java.io.InputStream body;

        private Events(String url, String token) {
            reader = Thread.ofVirtual().start(() -> {
                try {
                    var r = HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(URI.create(url + "/api/v1/events"))
                            .header("Authorization", "Bearer " + token).header("Accept", "text/event-stream").build(),
                            java.net.http.HttpResponse.BodyHandlers.ofInputStream());
                    body = r.body();
                    byte[] b = new byte[4096];
                    int n;
                    while ((n = body.read(b)) > 0) seen.append(new String(b, 0, n, StandardCharsets.UTF_8));
                } catch (Exception ignored) {
                    // closed
                }
            });
        }

        static Events open(String url, String token) throws InterruptedException {
            Events e = new Events(url, token);
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (e.seen.indexOf("visord events") < 0 && System.nanoTime() < end) Thread.sleep(20);
            return e;
        }

        void await(String text, int seconds) throws InterruptedException {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            while (seen.indexOf(text) < 0) {
                if (System.nanoTime() > end) throw new AssertionError("no event with " + text + " in:\n" + seen);
                Thread.sleep(20);
            }
        }

        @Override
        public void close() throws java.io.IOException {
            if (body != null) body.close();
            reader.interrupt();
        }
    }

    /** A console WebSocket as a browser or the CLI opens it. */
    static final class Console implements WebSocket.Listener, AutoCloseable {
        private final StringBuffer seen = new StringBuffer();
        private WebSocket ws;

        static Console open(String url, String vm, String token) throws Exception {
            Console c = new Console();
            c.ws = HttpClient.newHttpClient().newWebSocketBuilder().header("Authorization", "Bearer " + token)
                    .buildAsync(URI.create(url.replace("http://", "ws://") + "/api/v1/vms/" + vm + "/console"), c)
                    .get(10, TimeUnit.SECONDS);
            return c;
        }

        @Override
        public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
            byte[] b = new byte[data.remaining()];
            data.get(b);
            seen.append(new String(b, StandardCharsets.UTF_8));
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            seen.append(data);
            webSocket.request(1);
            return null;
        }

        void type(String s) {
            ws.sendText(s, true).join();
        }

        void await(String text, int seconds) throws InterruptedException {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            while (seen.indexOf(text) < 0) {
                if (System.nanoTime() > end) {
                    String s = seen.toString();
                    throw new AssertionError("no '" + text + "' on the console:\n" + (s.length() > 3000 ? s.substring(s.length() - 3000) : s));
                }
                Thread.sleep(50);
            }
        }

        String seen() { return seen.toString(); }

        @Override
        public void close() {
            ws.sendClose(WebSocket.NORMAL_CLOSURE, "bye").orTimeout(5, TimeUnit.SECONDS).exceptionally(t -> null);
            CompletableFuture.runAsync(ws::abort);
        }
    }
}
