package dev.visor.daemon.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.visor.daemon.Daemon;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The API's guards, against a real daemon on a real port (no guest is booted: these calls are
 * refused before any VMM would start): authentication and roles on changing calls, bad and
 * oversized JSON, images outside the store and images of other VMs. Each refusal must change
 * nothing, which the test checks by listing what exists afterwards.
 */
class ApiSecurityTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @TempDir
    Path dir;

    private Daemon daemon;
    private String url, admin;

    @BeforeEach
    void start() throws Exception {
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx--x--x")); // as root VMM users pass through (JUnit makes it 0700)
        daemon = Daemon.start(new Daemon.Config(dir.resolve("state"), "127.0.0.1", 0, List.of("/bin/false"), Map.of()));
        url = "http://127.0.0.1:" + daemon.port();
        admin = Files.readString(daemon.paths().adminToken()).strip();
    }

    @AfterEach
    void stop() {
        daemon.close();
    }

    private HttpResponse<String> call(String method, String path, String token, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) b.header("Authorization", "Bearer " + token);
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode json(HttpResponse<String> r) throws Exception { return JSON.readTree(r.body()); }

    private int vmCount() throws Exception { return json(call("GET", "/api/v1/vms", admin, null)).size(); }

    private static final String GOOD_VM = "{\"name\":\"a\",\"memory\":\"64M\",\"nets\":[\"none\"]}";

    @Test
    void theAdminTokenFileIsTheOwnersOnly() throws Exception {
        Set<PosixFilePermission> perms = Files.getPosixFilePermissions(daemon.paths().adminToken());
        assertEquals(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE), perms);
        assertTrue(admin.startsWith("visor_"), admin);
    }

    @Test
    void changingCallsNeedAValidTokenWithTheRightRole() throws Exception {
        HttpResponse<String> none = call("POST", "/api/v1/vms", null, GOOD_VM);
        assertEquals(401, none.statusCode(), none.body());
        assertTrue(json(none).get("error").asText().contains("Bearer"), none.body());
        assertEquals(401, call("POST", "/api/v1/vms", "visor_not-a-real-token", GOOD_VM).statusCode());
        assertEquals(401, call("GET", "/api/v1/vms", "visor_not-a-real-token", null).statusCode());

        String viewer = json(call("POST", "/api/v1/tokens", admin, "{\"name\":\"watcher\",\"role\":\"viewer\"}")).get("token").asText();
        String operator = json(call("POST", "/api/v1/tokens", admin, "{\"name\":\"ops\",\"role\":\"operator\"}")).get("token").asText();
        HttpResponse<String> byViewer = call("POST", "/api/v1/vms", viewer, GOOD_VM);
        assertEquals(403, byViewer.statusCode(), byViewer.body());
        assertTrue(json(byViewer).get("error").asText().contains("viewer"), byViewer.body());
        assertEquals(403, call("POST", "/api/v1/vms", operator, GOOD_VM).statusCode(), "defining needs admin");
        assertEquals(403, call("POST", "/api/v1/tokens", operator, "{\"name\":\"x\",\"role\":\"admin\"}").statusCode());
        assertEquals(0, vmCount(), "nothing was defined by the refused calls");

        // the viewer may read; a defined VM may not be started by a viewer
        assertEquals(200, call("GET", "/api/v1/vms", viewer, null).statusCode());
        assertEquals(201, call("POST", "/api/v1/vms", admin, GOOD_VM).statusCode());
        assertEquals(403, call("POST", "/api/v1/vms/a/start", viewer, null).statusCode());
        assertEquals(403, call("DELETE", "/api/v1/vms/a", viewer, null).statusCode());
        assertEquals(403, call("DELETE", "/api/v1/vms/a", operator, null).statusCode());
        assertEquals(1, vmCount());

        // a deleted token stops working at once
        assertEquals(204, call("DELETE", "/api/v1/tokens/watcher", admin, null).statusCode());
        assertEquals(401, call("GET", "/api/v1/vms", viewer, null).statusCode());
    }

    @Test
    void everyRefusalIsAuditedWithWhoMadeIt() throws Exception {
        call("POST", "/api/v1/vms", null, GOOD_VM);
        call("POST", "/api/v1/vms", admin, GOOD_VM);
        JsonNode audit = json(call("GET", "/api/v1/audit", admin, null));
        assertEquals(2, audit.size(), audit.toString());
        assertEquals("admin", audit.get(0).get("who").asText());
        assertEquals(201, audit.get(0).get("status").asInt());
        assertEquals("-", audit.get(1).get("who").asText());
        assertEquals(401, audit.get(1).get("status").asInt());
    }

    @Test
    void malformedAndOversizedJsonIsRefusedWith400AndNothingChanges() throws Exception {
        for (String bad : List.of("{", "not json", "[1,2]", "{\"name\":\"a\",\"name\":\"b\"}", "{\"name\":\"a\",\"cpus\":\"many\"}",
                "{\"name\":\"a\",\"surprise\":1}", "{\"name\":\"A B\"}", "{\"name\":\"a\",\"memory\":\"lots\"}",
                "{\"name\":\"a\",\"memory\":\"1K\"}", "{\"name\":\"a\",\"nets\":[\"carrier-pigeon\"]}", "")) {
            HttpResponse<String> r = call("POST", "/api/v1/vms", admin, bad);
            assertEquals(400, r.statusCode(), bad + " → " + r.body());
            assertTrue(json(r).get("error").asText().length() > 5, r.body());
        }
        HttpResponse<String> field = call("POST", "/api/v1/vms", admin, "{\"name\":\"a\",\"memory\":\"lots\"}");
        assertEquals("memory", json(field).get("field").asText());
        String huge = "{\"name\":\"a\",\"append\":\"" + "x".repeat(200_000) + "\"}";
        HttpResponse<String> big = call("POST", "/api/v1/vms", admin, huge);
        assertEquals(400, big.statusCode(), big.body());
        assertTrue(json(big).get("error").asText().contains("larger"), big.body());
        String deep = "[".repeat(5000) + "]".repeat(5000);
        assertEquals(400, call("POST", "/api/v1/vms", admin, deep).statusCode());
        assertEquals(0, vmCount());
    }

    @Test
    void diskImagesComeOnlyFromTheStoreAndOnlyForOneVm() throws Exception {
        for (String path : List.of("/etc/passwd", "../state/visor.db", "..", ".hidden", "a/b.qcow2")) {
            HttpResponse<String> r = call("POST", "/api/v1/vms", admin,
                    "{\"name\":\"a\",\"memory\":\"64M\",\"disks\":[{\"image\":\"" + path + "\"}]}");
            assertEquals(400, r.statusCode(), path + " → " + r.body());
            assertEquals("disks[0].image", json(r).get("field").asText());
        }
        assertEquals(400, call("POST", "/api/v1/images", admin, "{\"name\":\"../escape.qcow2\",\"size\":\"1M\"}").statusCode());
        assertFalse(Files.exists(dir.resolve("state").resolve("escape.qcow2")));

        assertEquals(201, call("POST", "/api/v1/images", admin, "{\"name\":\"mine.qcow2\",\"format\":\"qcow2\",\"size\":\"16M\"}").statusCode());
        assertEquals(201, call("POST", "/api/v1/vms", admin,
                "{\"name\":\"a\",\"memory\":\"64M\",\"disks\":[{\"image\":\"mine.qcow2\"}]}").statusCode());
        JsonNode image = json(call("GET", "/api/v1/images", admin, null)).get(0);
        assertEquals(json(call("GET", "/api/v1/vms/a", admin, null)).get("label").asText(), image.get("label").asText(),
                "the image carries its VM's label");

        HttpResponse<String> other = call("POST", "/api/v1/vms", admin, "{\"name\":\"b\",\"memory\":\"64M\",\"disks\":[{\"image\":\"mine.qcow2\"}]}");
        assertEquals(403, other.statusCode(), other.body());
        HttpResponse<String> ro = call("POST", "/api/v1/vms", admin,
                "{\"name\":\"b\",\"memory\":\"64M\",\"disks\":[{\"image\":\"mine.qcow2\",\"readonly\":true}]}");
        assertEquals(403, ro.statusCode(), "not even read-only while VM a writes it: " + ro.body());
        assertEquals(201, call("POST", "/api/v1/vms", admin, "{\"name\":\"b\",\"memory\":\"64M\"}").statusCode());
        assertEquals(403, call("POST", "/api/v1/vms/b/disks", admin, "{\"image\":\"mine.qcow2\"}").statusCode());
        assertEquals(0, json(call("GET", "/api/v1/vms/b", admin, null)).get("disks").size());
        assertEquals(409, call("DELETE", "/api/v1/images/mine.qcow2", admin, null).statusCode(), "VM a uses it");

        // once VM a is gone its image is free again, for b
        assertEquals(204, call("DELETE", "/api/v1/vms/a", admin, null).statusCode());
        assertEquals(200, call("POST", "/api/v1/vms/b/disks", admin, "{\"image\":\"mine.qcow2\"}").statusCode());
    }

    @Test
    void aStartThatFailsLeavesTheVmStoppedWithTheReason() throws Exception {
        assertEquals(201, call("POST", "/api/v1/vms", admin, GOOD_VM).statusCode());
        HttpResponse<String> r = call("POST", "/api/v1/vms/a/start", admin, null);
        assertEquals(500, r.statusCode(), r.body());
        assertTrue(json(r).get("error").asText().contains("did not start"), r.body());
        JsonNode vm = json(call("GET", "/api/v1/vms/a", admin, null));
        assertEquals("stopped", vm.get("state").asText());
        assertTrue(vm.get("lastError").asText().contains("status 1"), vm.toString());
        assertEquals(404, call("POST", "/api/v1/vms/nope/start", admin, null).statusCode());
        assertEquals(409, call("POST", "/api/v1/vms/a/pause", admin, null).statusCode());
    }

    @Test
    void theOpenApiDocumentIsServedWithoutAToken() throws Exception {
        HttpResponse<String> r = call("GET", "/api/v1/openapi.json", null, null);
        assertEquals(200, r.statusCode());
        assertTrue(json(r).get("openapi").asText().startsWith("3."), r.body().substring(0, 100));
    }
}
