package dev.visor.machine.state;

/** The type tag of a field in a state record; the tag byte is part of the file format, never renumber. */
enum FieldType {
    LONG(1), INT(2), BOOL(3), BYTES(4), LONGS(5), INTS(6), STRING(7);

    final int tag;

    FieldType(int tag) { this.tag = tag; }

    private static final FieldType[] BY_TAG = new FieldType[8];
    static {
        for (FieldType t : values()) BY_TAG[t.tag] = t;
    }

    static FieldType of(int tag) {
        return tag >= 0 && tag < BY_TAG.length ? BY_TAG[tag] : null;
    }
}
