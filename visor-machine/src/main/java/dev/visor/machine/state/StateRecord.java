package dev.visor.machine.state;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** One component's saved state: its id, the record version and the typed fields. Immutable. */
public final class StateRecord {
    private final String id;
    private final int version;
    private final Map<String, Object> fields;

    StateRecord(String id, int version, Map<String, Object> fields) {
        this.id = id;
        this.version = version;
        this.fields = Collections.unmodifiableMap(new LinkedHashMap<>(fields));
    }

    public String id() { return id; }
    public int version() { return version; }
    Map<String, Object> fields() { return fields; }

    /** A reader for this record. */
    public StateReader reader() { return new StateReader(this); }
}
