package dev.visor.daemon.vm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.visor.daemon.DaemonException;
import dev.visor.daemon.model.DiskRef;
import dev.visor.daemon.model.VmDefinition;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Another host's daemon, as the source of a live migration talks to it: it asks the destination
 * to define the VM and start a VMM waiting for the migration, and learns the port to send to.
 */
final class DaemonPeer {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    private final URI base;
    private final String token;

    DaemonPeer(URI base, String token) {
        this.base = base;
        this.token = token;
    }

    String host() { return base.getHost(); }

    /** Asks the destination to wait for {@code d}; returns the port its VMM listens on. */
    int prepareIncoming(VmDefinition d, boolean copyStorage) throws DaemonException {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("vm", defineRequest(d));
        body.put("copyStorage", copyStorage);
        HttpResponse<String> r;
        try {
            HttpRequest req = HttpRequest.newBuilder(base.resolve("/api/v1/migrations/incoming"))
                    .timeout(Duration.ofSeconds(60))
                    .header("Authorization", "Bearer " + token)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)))
                    .build();
            r = HTTP.send(req, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw DaemonException.conflict("cannot reach the destination daemon at " + base + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw DaemonException.failed("interrupted", e);
        }
        JsonNode answer;
        try {
            answer = JSON.readTree(r.body());
        } catch (IOException e) {
            throw DaemonException.conflict("the destination at " + base + " answered " + r.statusCode() + " without JSON: is it a visor daemon?");
        }
        if (r.statusCode() != 201) {
            String why = answer.path("error").asText("status " + r.statusCode());
            throw DaemonException.conflict("the destination refused the VM: " + why);
        }
        return answer.path("port").asInt(-1);
    }

    /** {@code d} as a define request (the API's form), for the destination. */
    static Map<String, Object> defineRequest(VmDefinition d) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", d.name());
        m.put("cpus", d.cpus());
        m.put("memory", d.memoryBytes());
        List<Map<String, Object>> disks = new ArrayList<>();
        for (DiskRef disk : d.disks()) disks.add(Map.of("image", disk.image(), "readonly", disk.readonly()));
        m.put("disks", disks);
        m.put("nets", d.nets().isEmpty() ? List.of("none") : d.nets());
        m.put("rng", d.rng());
        m.put("balloon", d.balloon());
        if (d.append() != null) m.put("append", d.append());
        m.put("autostart", d.autostart());
        m.put("restart", d.restart().apiName());
        return m;
    }
}
