package dev.visor.daemon.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.visor.daemon.DaemonException;
import dev.visor.daemon.model.DiskRef;
import dev.visor.daemon.model.RestartPolicy;
import dev.visor.daemon.model.VmDefinition;
import dev.visor.vmm.NetSpec;
import dev.visor.vmm.Sizes;
import dev.visor.vmm.VmConfigException;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Turns a define or update request's JSON into a {@link VmDefinition}, checking every field; the
 * first bad one is refused with its name and the reason (a 400), before anything is stored.
 */
final class DefinitionParser {
    static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,31}");
    static final int MAX_CPUS = 64;
    static final long MIN_MEMORY = 16L << 20, MAX_MEMORY = 64L << 30;
    private static final Set<String> DEFINE_FIELDS = Set.of("name", "cpus", "memory", "disks", "nets", "rng", "balloon", "append",
            "autostart", "restart", "snapshot");
    private static final Set<String> UPDATE_FIELDS = Set.of("cpus", "memory", "nets", "append", "autostart", "restart", "rng", "balloon");

    private DefinitionParser() {}

    /** A new VM from a define request. */
    static VmDefinition define(JsonNode body) throws DaemonException {
        object(body);
        onlyFields(body, DEFINE_FIELDS);
        String name = text(body, "name", null);
        if (name == null) throw DaemonException.invalid("name", "is required");
        if (!NAME.matcher(name).matches()) throw DaemonException.invalid("name", "must be 1 to 32 of a-z, 0-9 and '-', starting with a letter or digit");
        String snapshot = text(body, "snapshot", null);
        if (snapshot != null && (body.has("cpus") || body.has("memory") || body.has("disks"))) {
            throw DaemonException.invalid("snapshot", "a snapshot clone takes its cpus, memory and disks from the snapshot: leave them out");
        }
        return new VmDefinition(name, cpus(body, 1), memory(body, 512L << 20), disks(body), nets(body, List.of("user")),
                bool(body, "rng", true), bool(body, "balloon", false), append(body, null), bool(body, "autostart", false),
                restart(body, RestartPolicy.NEVER), snapshot);
    }

    /** {@code old} with the fields an update request gives. */
    static VmDefinition update(VmDefinition old, JsonNode body) throws DaemonException {
        object(body);
        onlyFields(body, UPDATE_FIELDS);
        return new VmDefinition(old.name(), cpus(body, old.cpus()), memory(body, old.memoryBytes()), old.disks(),
                nets(body, old.nets()), bool(body, "rng", old.rng()), bool(body, "balloon", old.balloon()), append(body, old.append()),
                bool(body, "autostart", old.autostart()), restart(body, old.restart()), old.snapshot());
    }

    static void object(JsonNode body) throws DaemonException {
        if (body == null || !body.isObject()) throw DaemonException.invalid(null, "the request body must be a JSON object");
    }

    static void onlyFields(JsonNode body, Set<String> allowed) throws DaemonException {
        for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!allowed.contains(f)) throw DaemonException.invalid(f, "unknown field (allowed: " + String.join(", ", new java.util.TreeSet<>(allowed)) + ")");
        }
    }

    static String text(JsonNode body, String field, String dflt) throws DaemonException {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) return dflt;
        if (!n.isTextual()) throw DaemonException.invalid(field, "must be a string");
        return n.asText();
    }

    static boolean bool(JsonNode body, String field, boolean dflt) throws DaemonException {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) return dflt;
        if (!n.isBoolean()) throw DaemonException.invalid(field, "must be true or false");
        return n.asBoolean();
    }

    private static int cpus(JsonNode body, int dflt) throws DaemonException {
        JsonNode n = body.get("cpus");
        if (n == null || n.isNull()) return dflt;
        if (!n.isIntegralNumber() || n.asLong() < 1 || n.asLong() > MAX_CPUS) throw DaemonException.invalid("cpus", "must be a whole number from 1 to " + MAX_CPUS);
        return n.asInt();
    }

    /** A size field: a string like "512M" or a number of bytes. */
    static long size(JsonNode body, String field, long dflt) throws DaemonException {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) return dflt;
        try {
            if (n.isIntegralNumber() && n.canConvertToLong()) return n.asLong();
            if (n.isTextual()) return Sizes.parse(n.asText());
        } catch (IllegalArgumentException e) {
            throw DaemonException.invalid(field, e.getMessage());
        }
        throw DaemonException.invalid(field, "must be a size like \"512M\" or a number of bytes");
    }

    private static long memory(JsonNode body, long dflt) throws DaemonException {
        long m = size(body, "memory", dflt);
        if (m < MIN_MEMORY || m > MAX_MEMORY) throw DaemonException.invalid("memory", "must be from 16M to 64G");
        return (m + 4095) / 4096 * 4096;
    }

    private static List<DiskRef> disks(JsonNode body) throws DaemonException {
        JsonNode n = body.get("disks");
        List<DiskRef> out = new ArrayList<>();
        if (n == null || n.isNull()) return out;
        if (!n.isArray()) throw DaemonException.invalid("disks", "must be a list of {\"image\": NAME, \"readonly\": false}");
        if (n.size() > 8) throw DaemonException.invalid("disks", "at most 8 disks");
        for (int i = 0; i < n.size(); i++) {
            JsonNode d = n.get(i);
            String f = "disks[" + i + "]";
            if (!d.isObject()) throw DaemonException.invalid(f, "must be an object {\"image\": NAME}");
            for (Iterator<String> it = d.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (!k.equals("image") && !k.equals("readonly")) throw DaemonException.invalid(f + "." + k, "unknown field (allowed: image, readonly)");
            }
            String image = text(d, "image", null);
            if (image == null) throw DaemonException.invalid(f + ".image", "is required");
            out.add(new DiskRef(image, bool(d, "readonly", false)));
        }
        return out;
    }

    private static List<String> nets(JsonNode body, List<String> dflt) throws DaemonException {
        JsonNode n = body.get("nets");
        if (n == null || n.isNull()) return dflt;
        if (!n.isArray()) throw DaemonException.invalid("nets", "must be a list like [\"user\"]");
        if (n.size() > 8) throw DaemonException.invalid("nets", "at most 8 NICs");
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n.size(); i++) {
            JsonNode e = n.get(i);
            String f = "nets[" + i + "]";
            if (!e.isTextual()) throw DaemonException.invalid(f, "must be a string like \"user\"");
            String s = e.asText();
            if (s.equals("none")) {
                if (n.size() > 1) throw DaemonException.invalid(f, "none cannot be combined with other NICs");
                return List.of();
            }
            try {
                NetSpec.parse(s);
            } catch (VmConfigException ex) {
                throw DaemonException.invalid(f, ex.getMessage());
            }
            out.add(s);
        }
        return out;
    }

    private static String append(JsonNode body, String dflt) throws DaemonException {
        if (!body.has("append")) return dflt;
        String a = text(body, "append", null);
        if (a != null && (a.length() > 1024 || a.chars().anyMatch(c -> c < 0x20))) {
            throw DaemonException.invalid("append", "must be one line of at most 1024 characters");
        }
        return a;
    }

    private static RestartPolicy restart(JsonNode body, RestartPolicy dflt) throws DaemonException {
        String r = text(body, "restart", null);
        if (r == null) return dflt;
        try {
            return RestartPolicy.parse(r);
        } catch (IllegalArgumentException e) {
            throw DaemonException.invalid("restart", e.getMessage());
        }
    }
}
