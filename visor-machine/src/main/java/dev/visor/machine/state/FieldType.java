package dev.visor.machine.state;

/** The type tag of a field in a state record; the tag byte is part of the file format, never renumber. */
enum FieldType {
    LONG(1), INT(2), BOOL(3), BYTES(4), LONGS(5), INTS(6), STRING(7);

    final int tag;

    FieldType(int tag) { this.tag = tag; }

    static FieldType of(int tag) {
        for (FieldType t : values()) if (t.tag == tag) return t;
        return null;
    }
}
