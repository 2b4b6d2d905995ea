package dev.visor.machine.state;

/**
 * Reads one component's state record. A field that is missing gives the default the caller names
 * (so records written before the field existed still restore); fields the caller does not ask for
 * are ignored (so a newer writer's additions do no harm). A field of the wrong type is refused.
 */
public final class StateReader {
    private final StateRecord record;

    StateReader(StateRecord record) { this.record = record; }

    public String id() { return record.id(); }
    public int version() { return record.version(); }
    public boolean has(String name) { return record.fields().containsKey(name); }

    private Object get(String name, Class<?> type) throws StateException {
        Object v = record.fields().get(name);
        if (v != null && !type.isInstance(v)) {
            throw new StateException("state of " + id() + ": field " + name + " is a " + v.getClass().getSimpleName()
                    + ", expected " + type.getSimpleName());
        }
        return v;
    }

    public long getLong(String name, long dflt) throws StateException {
        Object v = get(name, Long.class);
        return v == null ? dflt : (Long) v;
    }

    public int getInt(String name, int dflt) throws StateException {
        Object v = get(name, Integer.class);
        return v == null ? dflt : (Integer) v;
    }

    public boolean getBool(String name, boolean dflt) throws StateException {
        Object v = get(name, Boolean.class);
        return v == null ? dflt : (Boolean) v;
    }

    public String getString(String name, String dflt) throws StateException {
        Object v = get(name, String.class);
        return v == null ? dflt : (String) v;
    }

    /** The bytes, or {@code dflt} when missing; the array is the caller's. */
    public byte[] getBytes(String name, byte[] dflt) throws StateException {
        Object v = get(name, byte[].class);
        return v == null ? dflt : ((byte[]) v).clone();
    }

    public long[] getLongs(String name, long[] dflt) throws StateException {
        Object v = get(name, long[].class);
        return v == null ? dflt : ((long[]) v).clone();
    }

    public int[] getInts(String name, int[] dflt) throws StateException {
        Object v = get(name, int[].class);
        return v == null ? dflt : ((int[]) v).clone();
    }

    /** A long[] field that must be present with exactly {@code length} entries (register files, per-hart arrays). */
    public long[] requireLongs(String name, int length) throws StateException {
        long[] v = getLongs(name, null);
        if (v == null) throw new StateException("state of " + id() + " has no field " + name);
        if (v.length != length) throw new StateException("state of " + id() + ": " + name + " has " + v.length + " entries, expected " + length);
        return v;
    }

    /** An int[] field that must be present with exactly {@code length} entries. */
    public int[] requireInts(String name, int length) throws StateException {
        int[] v = getInts(name, null);
        if (v == null) throw new StateException("state of " + id() + " has no field " + name);
        if (v.length != length) throw new StateException("state of " + id() + ": " + name + " has " + v.length + " entries, expected " + length);
        return v;
    }

    /** Refuses the record if this code cannot read its version. */
    public void requireVersion(int max) throws StateException {
        if (version() < 1 || version() > max) {
            throw new StateException("state of " + id() + " is version " + version() + "; this Visor reads versions 1 to " + max);
        }
    }

    /** A failure about this record, as a one-line exception. */
    public StateException invalid(String what) {
        return new StateException("state of " + id() + ": " + what);
    }
}
