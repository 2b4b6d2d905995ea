package dev.visor.machine.state;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * A VM's device state: component id to {@link StateRecord}, and its file format. Guest RAM is not in
 * here; it travels separately (a RAM file, or the migration stream).
 *
 * <pre>
 *   file   := magic "VSTA" (4) | format u32 | records u32 | record* | crc32 u32 (of all bytes before it)
 *   record := id str | version u32 | fields u32 | field*
 *   field  := name str | type u8 | value
 *   value  := LONG i64 | INT i32 | BOOL u8 | BYTES n u32, n bytes | LONGS n u32, n i64 | INTS n u32, n i32 | STRING str
 *   str    := n u16 | n bytes UTF-8
 * </pre>
 * Big-endian throughout. Every count and length is checked against {@link StateLimits} and against
 * the bytes that remain before anything is allocated, so a corrupt or hostile file is refused with
 * one line and never makes the VMM allocate without bound.
 */
public final class StateTree {
    /** "VSTA": a Visor state file. */
    static final int MAGIC = 0x56535441;
    /** Version of the container format above (not of the records in it, which carry their own). */
    public static final int FORMAT_VERSION = 1;

    private final Map<String, StateRecord> records = new LinkedHashMap<>();

    public void add(StateRecord r) {
        if (records.putIfAbsent(r.id(), r) != null) throw new IllegalArgumentException("two state records named " + r.id());
    }

    /** Saves {@code s} under its own id. */
    public void save(Stateful s) { save(s.stateId(), s); }

    /** Saves {@code s} under {@code id} (for parts whose id depends on where they sit, e.g. a virtio slot). */
    public void save(String id, Stateful s) {
        StateWriter w = new StateWriter(id, s.stateVersion());
        s.saveState(w);
        add(w.record());
    }

    public StateRecord get(String id) { return records.get(id); }
    public boolean has(String id) { return records.containsKey(id); }
    public Collection<StateRecord> records() { return records.values(); }

    /** Restores {@code s} from its own id's record. */
    public void restore(Stateful s) throws StateException { restore(s.stateId(), s); }

    /** Restores {@code s} from the record {@code id}; a missing record or a newer version is refused. */
    public void restore(String id, Stateful s) throws StateException {
        StateReader r = reader(id);
        r.requireVersion(s.stateVersion());
        s.restoreState(r);
    }

    /** The reader for record {@code id}; refuses if there is none. */
    public StateReader reader(String id) throws StateException {
        StateRecord r = records.get(id);
        if (r == null) throw new StateException("the state has no record for " + id + ": it was saved from a VM of another shape");
        return r.reader();
    }

    // ---------------------------------------------------------------- encoding

    public byte[] encode() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(MAGIC);
            out.writeInt(FORMAT_VERSION);
            out.writeInt(records.size());
            for (StateRecord r : records.values()) {
                writeString(out, r.id(), StateLimits.MAX_NAME);
                out.writeInt(r.version());
                out.writeInt(r.fields().size());
                for (Map.Entry<String, Object> f : r.fields().entrySet()) {
                    writeString(out, f.getKey(), StateLimits.MAX_NAME);
                    writeValue(out, f.getValue());
                }
            }
            CRC32 crc = new CRC32();
            crc.update(bytes.toByteArray());
            out.writeInt((int) crc.getValue());
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a byte array stream does not fail
        }
        if (bytes.size() > StateLimits.MAX_FILE) throw new IllegalStateException("device state of " + bytes.size() + " bytes is over the cap");
        return bytes.toByteArray();
    }

    private static void writeValue(DataOutputStream out, Object v) throws IOException {
        switch (v) {
            case Long l -> { out.writeByte(FieldType.LONG.tag); out.writeLong(l); }
            case Integer i -> { out.writeByte(FieldType.INT.tag); out.writeInt(i); }
            case Boolean b -> { out.writeByte(FieldType.BOOL.tag); out.writeByte(b ? 1 : 0); }
            case byte[] b -> { out.writeByte(FieldType.BYTES.tag); out.writeInt(b.length); out.write(b); }
            case long[] a -> {
                out.writeByte(FieldType.LONGS.tag);
                out.writeInt(a.length);
                for (long x : a) out.writeLong(x);
            }
            case int[] a -> {
                out.writeByte(FieldType.INTS.tag);
                out.writeInt(a.length);
                for (int x : a) out.writeInt(x);
            }
            case String s -> { out.writeByte(FieldType.STRING.tag); writeString(out, s, StateLimits.MAX_STRING); }
            default -> throw new IllegalArgumentException("no encoding for " + v.getClass());
        }
    }

    private static void writeString(DataOutputStream out, String s, int max) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length > max || b.length > 0xffff) throw new IllegalArgumentException("string of " + b.length + " bytes is too long for a state file");
        out.writeShort(b.length);
        out.write(b);
    }

    // ---------------------------------------------------------------- decoding

    /** Parses a state file; refuses a bad magic, format version, checksum, or any length past the caps. */
    public static StateTree decode(byte[] file) throws StateException {
        if (file.length > StateLimits.MAX_FILE) {
            throw new StateException("state file of " + file.length + " bytes is larger than the " + (StateLimits.MAX_FILE >> 20) + " MiB cap");
        }
        if (file.length < 16) throw new StateException("state file is truncated (" + file.length + " bytes)");
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.BIG_ENDIAN);
        if (b.getInt() != MAGIC) throw new StateException("not a Visor state file (bad magic)");
        int format = b.getInt();
        if (format != FORMAT_VERSION) {
            throw new StateException("state file format " + format + " is not supported (this Visor reads format " + FORMAT_VERSION + ")");
        }
        CRC32 crc = new CRC32();
        crc.update(file, 0, file.length - 4);
        int stored = ByteBuffer.wrap(file, file.length - 4, 4).getInt();
        if ((int) crc.getValue() != stored) throw new StateException("state file is corrupt (checksum mismatch)");
        b.limit(file.length - 4);
        StateTree tree = new StateTree();
        try {
            int n = count(b, StateLimits.MAX_RECORDS, 0, "records");
            for (int i = 0; i < n; i++) {
                String id = readString(b, StateLimits.MAX_NAME);
                int version = b.getInt();
                int fields = count(b, StateLimits.MAX_FIELDS, 0, "fields in " + id);
                Map<String, Object> map = new LinkedHashMap<>();
                for (int k = 0; k < fields; k++) {
                    String name = readString(b, StateLimits.MAX_NAME);
                    if (map.put(name, readValue(b, id, name)) != null) {
                        throw new StateException("state file is corrupt: field " + id + "." + name + " appears twice");
                    }
                }
                if (tree.records.containsKey(id)) throw new StateException("state file is corrupt: two records named " + id);
                tree.records.put(id, new StateRecord(id, version, map));
            }
            if (b.hasRemaining()) throw new StateException("state file is corrupt: " + b.remaining() + " bytes after the last record");
        } catch (BufferUnderflowException e) {
            throw new StateException("state file is truncated");
        }
        return tree;
    }

    /** A count that must not exceed {@code max}, nor the bytes left at {@code unit} bytes each. */
    private static int count(ByteBuffer b, int max, int unit, String what) throws StateException {
        return count(b, max, unit, what, null, null);
    }

    /** As above, for an array in field {@code id.name} (named only if it is refused). */
    private static int count(ByteBuffer b, int max, int unit, String what, String id, String name) throws StateException {
        int n = b.getInt();
        if (n < 0 || n > max || (unit > 0 && (long) n * unit > b.remaining())) {
            throw new StateException("state file is corrupt: " + Integer.toUnsignedString(n) + " " + what
                    + (id == null ? "" : id + "." + name) + " is out of bounds");
        }
        return n;
    }

    /** Field {@code id.name}'s value (the name only goes into error messages: a state file has hundreds of fields). */
    private static Object readValue(ByteBuffer b, String id, String name) throws StateException {
        int tag = b.get() & 0xff;
        FieldType t = FieldType.of(tag);
        if (t == null) throw new StateException("state file is corrupt: field " + id + "." + name + " has unknown type " + tag);
        return switch (t) {
            case LONG -> b.getLong();
            case INT -> b.getInt();
            case BOOL -> b.get() != 0;
            case BYTES -> {
                byte[] a = new byte[count(b, StateLimits.MAX_ARRAY_BYTES, 1, "bytes in ", id, name)];
                b.get(a);
                yield a;
            }
            case LONGS -> {
                long[] a = new long[count(b, StateLimits.MAX_ARRAY_BYTES / 8, 8, "longs in ", id, name)];
                b.asLongBuffer().get(a);
                b.position(b.position() + 8 * a.length);
                yield a;
            }
            case INTS -> {
                int[] a = new int[count(b, StateLimits.MAX_ARRAY_BYTES / 4, 4, "ints in ", id, name)];
                b.asIntBuffer().get(a);
                b.position(b.position() + 4 * a.length);
                yield a;
            }
            case STRING -> readString(b, StateLimits.MAX_STRING);
        };
    }

    private static String readString(ByteBuffer b, int max) throws StateException {
        int n = b.getShort() & 0xffff;
        if (n > max || n > b.remaining()) throw new StateException("state file is corrupt: a string of " + n + " bytes is out of bounds");
        int at = b.position();
        b.position(at + n);
        // names are ASCII: no decoder for them (decoding is the switch-over's critical path)
        byte[] array = b.array();
        int from = b.arrayOffset() + at;
        boolean ascii = true;
        for (int i = from; i < from + n && ascii; i++) ascii = array[i] >= 0;
        if (ascii) return new String(array, from, n, StandardCharsets.ISO_8859_1);
        ByteBuffer s = b.slice(at, n);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(s).toString();
        } catch (CharacterCodingException e) {
            throw new StateException("state file is corrupt: a name is not UTF-8");
        }
    }
}
