package dev.visor.daemon.store;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.visor.daemon.model.DiskRef;
import dev.visor.daemon.model.RestartPolicy;
import dev.visor.daemon.model.VmDefinition;
import java.util.ArrayList;
import java.util.List;

/**
 * The stored form of a {@link VmDefinition}: a JSON object, written field by field rather than by
 * letting Jackson map the record, so that renaming or reordering a record component cannot
 * silently change what is on disk (and old rows stay readable). The field names are those of the
 * API's VM object; the restart policy is its API name ("on-failure").
 *
 * <p>Rules for later changes: a new field must be read as optional with a default (rows written
 * before it exist); unknown fields are ignored (a row written by a newer visord stays readable by
 * an older one). The fields below are all required: each has been written since schema 1, so a
 * row without one is damaged, not old.
 */
final class DefinitionJson {
    private static final ObjectMapper MAPPER =
            new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private DefinitionJson() {}

    /** The JSON text for {@code d}. Throws IllegalArgumentException when a required part is null. */
    static String write(VmDefinition d) {
        if (d.name() == null) throw new IllegalArgumentException("the VM definition has no name");
        if (d.restart() == null) throw new IllegalArgumentException("VM '" + d.name() + "' has no restart policy");
        ObjectNode o = MAPPER.createObjectNode();
        o.put("name", d.name());
        o.put("cpus", d.cpus());
        o.put("memoryBytes", d.memoryBytes());
        ArrayNode disks = o.putArray("disks");
        for (DiskRef disk : d.disks()) {
            if (disk.image() == null) throw new IllegalArgumentException("VM '" + d.name() + "' has a disk without an image");
            disks.addObject().put("image", disk.image()).put("readonly", disk.readonly());
        }
        ArrayNode nets = o.putArray("nets");
        d.nets().forEach(nets::add);
        o.put("rng", d.rng());
        o.put("balloon", d.balloon());
        o.put("append", d.append());
        o.put("autostart", d.autostart());
        o.put("restart", d.restart().apiName());
        o.put("snapshot", d.snapshot());
        try {
            return MAPPER.writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a JSON tree of strings and numbers: " + e.getMessage(), e);
        }
    }

    /** Reads a stored definition; IllegalArgumentException (one line, what is wrong) when it cannot. */
    static VmDefinition read(String json) {
        JsonNode root;
        try {
            root = json == null ? null : MAPPER.readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not valid JSON: " + Database.oneLine(e.getOriginalMessage()));
        }
        if (root == null || !root.isObject()) throw new IllegalArgumentException("not a JSON object");
        List<DiskRef> disks = new ArrayList<>();
        for (JsonNode disk : array(root, "disks")) {
            if (!disk.isObject()) throw new IllegalArgumentException("'disks' holds a non-object");
            disks.add(new DiskRef(text(disk, "image"), bool(disk, "readonly")));
        }
        List<String> nets = new ArrayList<>();
        for (JsonNode net : array(root, "nets")) {
            if (!net.isTextual()) throw new IllegalArgumentException("'nets' holds a non-string");
            nets.add(net.textValue());
        }
        RestartPolicy restart;
        try {
            restart = RestartPolicy.parse(text(root, "restart"));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'restart' " + e.getMessage());
        }
        long cpus = integer(root, "cpus");
        if (cpus != (int) cpus) throw new IllegalArgumentException("'cpus' is out of range: " + cpus);
        return new VmDefinition(text(root, "name"), (int) cpus, integer(root, "memoryBytes"), disks, nets,
                bool(root, "rng"), bool(root, "balloon"), nullableText(root, "append"), bool(root, "autostart"),
                restart, nullableText(root, "snapshot"));
    }

    private static JsonNode field(JsonNode o, String name) {
        JsonNode v = o.get(name);
        if (v == null) throw new IllegalArgumentException("no '" + name + "'");
        return v;
    }

    private static String text(JsonNode o, String name) {
        JsonNode v = field(o, name);
        if (!v.isTextual()) throw new IllegalArgumentException("'" + name + "' is not a string");
        return v.textValue();
    }

    private static String nullableText(JsonNode o, String name) {
        JsonNode v = field(o, name);
        return v.isNull() ? null : text(o, name);
    }

    private static boolean bool(JsonNode o, String name) {
        JsonNode v = field(o, name);
        if (!v.isBoolean()) throw new IllegalArgumentException("'" + name + "' is not true or false");
        return v.booleanValue();
    }

    private static long integer(JsonNode o, String name) {
        JsonNode v = field(o, name);
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw new IllegalArgumentException("'" + name + "' is not an integer");
        }
        return v.longValue();
    }

    private static JsonNode array(JsonNode o, String name) {
        JsonNode v = field(o, name);
        if (!v.isArray()) throw new IllegalArgumentException("'" + name + "' is not an array");
        return v;
    }
}
