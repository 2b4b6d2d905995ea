package dev.visor.daemon.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The OpenAPI document the daemon serves at GET /api/v1/openapi.json, checked against the API contract. */
class OpenApiDocumentTest {
    static final String RESOURCE = "/dev/visor/daemon/api/openapi.json";

    /** Every route of the contract (notes/api-contract.md) and the daemon, with the least role it needs ("none": no token). */
    static final List<String[]> ROUTES = List.of(
            route("get", "/api/v1/openapi.json", "none"),
            route("get", "/api/v1/host", "viewer"),
            route("get", "/api/v1/vms", "viewer"),
            route("post", "/api/v1/vms", "admin"),
            route("get", "/api/v1/vms/{name}", "viewer"),
            route("patch", "/api/v1/vms/{name}", "admin"),
            route("delete", "/api/v1/vms/{name}", "admin"),
            route("post", "/api/v1/vms/{name}/start", "operator"),
            route("post", "/api/v1/vms/{name}/shutdown", "operator"),
            route("post", "/api/v1/vms/{name}/kill", "operator"),
            route("post", "/api/v1/vms/{name}/reboot", "operator"),
            route("post", "/api/v1/vms/{name}/pause", "operator"),
            route("post", "/api/v1/vms/{name}/resume", "operator"),
            route("post", "/api/v1/vms/{name}/disks", "admin"),
            route("post", "/api/v1/vms/{name}/disks/{dev}/resize", "operator"),
            route("get", "/api/v1/vms/{name}/snapshots", "viewer"),
            route("post", "/api/v1/vms/{name}/snapshots", "operator"),
            route("delete", "/api/v1/vms/{name}/snapshots/{snap}", "admin"),
            route("post", "/api/v1/vms/{name}/migrate", "admin"),
            route("get", "/api/v1/vms/{name}/console/log", "viewer"),
            route("get", "/api/v1/vms/{name}/console", "viewer"), // the WebSocket upgrade
            route("get", "/api/v1/images", "viewer"),
            route("post", "/api/v1/images", "admin"),
            route("delete", "/api/v1/images/{name}", "admin"),
            route("get", "/api/v1/events", "viewer"),
            route("get", "/api/v1/audit", "admin"),
            route("get", "/api/v1/tokens", "admin"),
            route("post", "/api/v1/tokens", "admin"),
            route("delete", "/api/v1/tokens/{name}", "admin"),
            route("get", "/metrics", "viewer"),
            // daemon to daemon during a migration: not in the contract's list, but served, so documented
            route("post", "/api/v1/migrations/incoming", "admin"));

    static final List<String> SCHEMAS = List.of("VM", "DefineRequest", "Image", "Snapshot", "Event", "Token", "Audit", "Host", "Error");

    static final Set<String> METHODS = Set.of("get", "put", "post", "delete", "options", "head", "patch", "trace");

    static JsonNode doc;

    private static String[] route(String method, String path, String role) {
        return new String[] {method, path, role};
    }

    @BeforeAll
    static void load() throws IOException {
        try (InputStream in = OpenApiDocumentTest.class.getResourceAsStream(RESOURCE)) {
            assertNotNull(in, RESOURCE + " is not on the class path");
            doc = new ObjectMapper().readTree(in);
        }
    }

    @Test
    void isAnOpenApi30Document() {
        assertTrue(doc.isObject());
        assertTrue(doc.path("openapi").asText().matches("3\\.0\\.\\d+"), "openapi: " + doc.path("openapi"));
        assertFalse(doc.path("info").path("title").asText().isEmpty());
        assertFalse(doc.path("info").path("version").asText().isEmpty());
        assertTrue(doc.path("paths").isObject());
    }

    @Test
    void everyRouteOfTheContractIsThere() {
        List<String> missing = new ArrayList<>();
        for (String[] r : ROUTES) {
            if (!doc.path("paths").path(r[1]).path(r[0]).isObject()) missing.add(r[0].toUpperCase() + " " + r[1]);
        }
        assertEquals(List.of(), missing);
    }

    @Test
    void noRouteBeyondTheContract() {
        Set<String> contract = new TreeSet<>();
        for (String[] r : ROUTES) contract.add(r[0] + " " + r[1]);
        Set<String> documented = new TreeSet<>();
        doc.path("paths").properties().forEach(p -> p.getValue().properties().forEach(m -> {
            if (METHODS.contains(m.getKey())) documented.add(m.getKey() + " " + p.getKey());
        }));
        assertEquals(contract, documented);
    }

    @Test
    void eachOperationNamesItsRole() {
        for (String[] r : ROUTES) {
            JsonNode op = doc.path("paths").path(r[1]).path(r[0]);
            String where = r[0].toUpperCase() + " " + r[1];
            assertEquals(r[2], op.path("x-visor-role").asText(), where + ": x-visor-role");
            String description = op.path("description").asText();
            if (r[2].equals("none")) assertTrue(description.contains("No token"), where + ": " + description);
            else assertTrue(description.contains("Role: " + r[2]), where + ": " + description);
            assertFalse(op.path("operationId").asText().isEmpty(), where + ": operationId");
            assertTrue(op.path("responses").isObject() && !op.path("responses").isEmpty(), where + ": responses");
            if (!r[2].equals("none")) assertTrue(op.path("responses").has("401"), where + ": 401");
            if (r[2].equals("operator") || r[2].equals("admin")) assertTrue(op.path("responses").has("403"), where + ": 403");
        }
    }

    @Test
    void operationIdsAreUnique() {
        Set<String> ids = new HashSet<>();
        doc.path("paths").properties().forEach(p -> p.getValue().properties().forEach(m -> {
            if (METHODS.contains(m.getKey())) assertTrue(ids.add(m.getValue().path("operationId").asText()), m.getValue().path("operationId").asText());
        }));
    }

    @Test
    void bearerAuthEverywhereButTheDocumentItself() {
        JsonNode scheme = doc.path("components").path("securitySchemes").path("bearerAuth");
        assertEquals("http", scheme.path("type").asText());
        assertEquals("bearer", scheme.path("scheme").asText());
        assertEquals(1, doc.path("security").size());
        assertTrue(doc.path("security").get(0).has("bearerAuth"));
        for (String[] r : ROUTES) {
            JsonNode security = doc.path("paths").path(r[1]).path(r[0]).get("security");
            String where = r[0].toUpperCase() + " " + r[1];
            if (r[2].equals("none")) {
                assertNotNull(security, where);
                assertTrue(security.isArray() && security.isEmpty(), where + " must need no token");
            } else if (security != null) { // an override must still accept the bearer token
                boolean bearer = false;
                for (JsonNode alternative : security) bearer |= alternative.has("bearerAuth");
                assertTrue(bearer, where + ": " + security);
            }
        }
    }

    @Test
    void theContractsSchemasAreThere() {
        JsonNode schemas = doc.path("components").path("schemas");
        for (String s : SCHEMAS) assertTrue(schemas.path(s).isObject(), "components/schemas/" + s);
        JsonNode define = schemas.path("DefineRequest");
        assertTrue(define.path("required").toString().contains("\"name\""));
        assertFalse(define.path("additionalProperties").asBoolean(true), "unknown fields are refused");
        assertEquals(1, define.path("properties").path("cpus").path("minimum").asInt());
        assertEquals(64, define.path("properties").path("cpus").path("maximum").asInt());
        assertEquals(32, resolve(define.path("properties").path("name")).path("maxLength").asInt());
        assertEquals(List.of("never", "on-failure", "always"), texts(resolve(schemas.path("VM").path("properties").path("restart")).path("enum")));
        assertEquals(List.of("stopped", "starting", "running", "paused", "stopping", "crashed"),
                texts(resolve(schemas.path("VM").path("properties").path("state")).path("enum")));
        assertEquals(List.of("qcow2", "raw"), texts(schemas.path("Image").path("properties").path("format").path("enum")));
        assertEquals(List.of("state", "defined", "updated", "deleted", "snapshot", "migrated"),
                texts(schemas.path("Event").path("properties").path("type").path("enum")));
        assertTrue(schemas.path("Error").path("required").toString().contains("\"error\""));
    }

    @Test
    void requestBodiesMatchTheContract() {
        Map<String, String> bodies = Map.of(
                "post /api/v1/vms", "DefineRequest",
                "patch /api/v1/vms/{name}", "UpdateRequest",
                "post /api/v1/vms/{name}/disks", "AttachDiskRequest",
                "post /api/v1/vms/{name}/disks/{dev}/resize", "ResizeRequest",
                "post /api/v1/vms/{name}/snapshots", "SnapshotRequest",
                "post /api/v1/vms/{name}/migrate", "MigrateRequest",
                "post /api/v1/images", "ImageCreateRequest",
                "post /api/v1/tokens", "TokenCreateRequest",
                "post /api/v1/migrations/incoming", "IncomingRequest");
        bodies.forEach((route, schema) -> {
            String[] mp = route.split(" ");
            JsonNode body = doc.path("paths").path(mp[1]).path(mp[0]).path("requestBody");
            assertEquals("#/components/schemas/" + schema, body.path("content").path("application/json").path("schema").path("$ref").asText(), route);
            assertTrue(body.path("required").asBoolean(), route);
        });
    }

    @Test
    void everyRefResolves() {
        List<String> refs = new ArrayList<>();
        collectRefs(doc, refs);
        assertFalse(refs.isEmpty());
        List<String> broken = new ArrayList<>();
        for (String ref : refs) {
            if (!ref.startsWith("#/") || pointer(ref).isMissingNode()) broken.add(ref);
        }
        assertEquals(List.of(), broken);
    }

    @Test
    void everyPathParameterIsDeclared() {
        doc.path("paths").properties().forEach(p -> {
            Set<String> inPath = new TreeSet<>();
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\{([^}]+)}").matcher(p.getKey());
            while (m.find()) inPath.add(m.group(1));
            p.getValue().properties().forEach(op -> {
                if (!METHODS.contains(op.getKey())) return;
                Set<String> declared = new TreeSet<>();
                for (JsonNode param : op.getValue().path("parameters")) {
                    JsonNode pr = resolve(param);
                    if (pr.path("in").asText().equals("path")) {
                        declared.add(pr.path("name").asText());
                        assertTrue(pr.path("required").asBoolean(), p.getKey() + ": path parameters are required");
                    }
                }
                assertEquals(inPath, declared, op.getKey() + " " + p.getKey());
            });
        });
    }

    private static void collectRefs(JsonNode node, List<String> refs) {
        if (node.isObject()) {
            for (Map.Entry<String, JsonNode> e : node.properties()) {
                if (e.getKey().equals("$ref") && e.getValue().isTextual()) refs.add(e.getValue().asText());
                else collectRefs(e.getValue(), refs);
            }
        } else if (node.isArray()) {
            for (JsonNode n : node) collectRefs(n, refs);
        }
    }

    /** The node a local reference ("#/components/schemas/VM") names; a missing node when none. */
    private static JsonNode pointer(String ref) {
        return doc.at(ref.substring(1));
    }

    private static JsonNode resolve(JsonNode node) {
        return node.has("$ref") ? pointer(node.path("$ref").asText()) : node;
    }

    private static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        for (JsonNode n : array) out.add(n.asText());
        return out;
    }
}
