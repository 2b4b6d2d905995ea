package dev.visor.machine.state;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Collects one component's state record: typed values keyed by field name. Arrays are copied, so
 * the component may go on changing its own. Field names are short ASCII words ("pc", "q0.size").
 */
public final class StateWriter {
    private final String id;
    private final int version;
    /** Field name to value: Long, Integer, Boolean, byte[], long[], int[] or String. */
    final Map<String, Object> fields = new LinkedHashMap<>();

    public StateWriter(String id, int version) {
        this.id = id;
        this.version = version;
    }

    public String id() { return id; }
    public int version() { return version; }

    private StateWriter put(String name, Object value) {
        if (name.isEmpty() || name.length() > StateLimits.MAX_NAME) throw new IllegalArgumentException("bad field name: " + name);
        if (fields.putIfAbsent(name, value) != null) throw new IllegalArgumentException(id + ": field " + name + " written twice");
        return this;
    }

    public StateWriter putLong(String name, long v) { return put(name, v); }
    public StateWriter putInt(String name, int v) { return put(name, v); }
    public StateWriter putBool(String name, boolean v) { return put(name, v); }
    public StateWriter putString(String name, String v) { return put(name, v); }

    public StateWriter putBytes(String name, byte[] v) {
        if (v.length > StateLimits.MAX_ARRAY_BYTES) throw new IllegalArgumentException(id + "." + name + ": " + v.length + " bytes is over the cap");
        return put(name, v.clone());
    }

    public StateWriter putLongs(String name, long[] v) { return put(name, v.clone()); }
    public StateWriter putInts(String name, int[] v) { return put(name, v.clone()); }

    /** The finished record. */
    public StateRecord record() { return new StateRecord(id, version, fields); }
}
