package dev.visor.board.virt;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * Writes a flattened device tree blob (DTB, format version 17, last compatible version 16).
 *
 * <p>Use: {@code beginNode("")} for the root, then properties and child nodes, each node closed by
 * {@link #endNode()}; {@link #finish()} returns the blob. Within a node all properties must come
 * before its first child (the format requires it); violating that, unbalanced nodes, or calling
 * anything after {@code finish()} throws {@link IllegalStateException}, since those are bugs in the
 * board code, not guest input.
 *
 * <p>Layout: the 40-byte header, an empty memory reservation block (one all-zero 16-byte entry) at
 * offset 40, the structure block, then the strings block. Everything is big-endian; the structure
 * block's tokens, names and values are padded to 4 bytes. Property names are stored once in the
 * strings block, however often they are used.
 *
 * <p>Not thread-safe: a builder is used by one thread while the machine is assembled.
 */
public final class FdtBuilder {
    public static final int MAGIC = 0xd00dfeed;
    public static final int VERSION = 17;
    public static final int LAST_COMP_VERSION = 16;
    public static final int HEADER_SIZE = 40;

    static final int FDT_BEGIN_NODE = 1, FDT_END_NODE = 2, FDT_PROP = 3, FDT_END = 9;

    private final ByteArrayOutputStream struct = new ByteArrayOutputStream();
    private final ByteArrayOutputStream strings = new ByteArrayOutputStream();
    private final Map<String, Integer> stringOffsets = new HashMap<>();
    private int depth;
    /** True once the current node has a child, after which it may take no more properties. */
    private boolean[] hasChild = new boolean[16];
    private boolean rootDone;
    private boolean finished;
    private int nextPhandle = 1;
    private int bootCpuidPhys;

    /**
     * Opens a node. The root is named {@code ""}; others are {@code name} or {@code name@unit-address}.
     */
    public FdtBuilder beginNode(String name) {
        checkOpen();
        if (depth == 0) {
            if (rootDone) throw new IllegalStateException("a device tree has one root");
            if (!name.isEmpty()) throw new IllegalStateException("the root node is named \"\", not " + name);
        } else {
            if (name.isEmpty() || name.indexOf('/') >= 0 || name.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("bad node name: " + name);
            }
            hasChild[depth] = true;
        }
        token(FDT_BEGIN_NODE);
        writeStringPadded(name);
        depth++;
        if (depth == hasChild.length) hasChild = java.util.Arrays.copyOf(hasChild, depth * 2);
        hasChild[depth] = false;
        return this;
    }

    /** Closes the innermost open node. */
    public FdtBuilder endNode() {
        checkOpen();
        if (depth == 0) throw new IllegalStateException("no open node");
        token(FDT_END_NODE);
        if (--depth == 0) rootDone = true;
        return this;
    }

    /** A property with a raw value. */
    public FdtBuilder property(String name, byte[] value) {
        checkOpen();
        if (depth == 0) throw new IllegalStateException("property " + name + " outside a node");
        if (hasChild[depth]) throw new IllegalStateException("property " + name + " after a child node");
        if (name.isEmpty() || name.indexOf('\0') >= 0) throw new IllegalArgumentException("bad property name: " + name);
        token(FDT_PROP);
        u32(struct, value.length);
        u32(struct, stringOffset(name));
        struct.writeBytes(value);
        pad(struct);
        return this;
    }

    /** A property of big-endian 32-bit cells. */
    public FdtBuilder propertyU32(String name, int... cells) {
        byte[] v = new byte[cells.length * 4];
        for (int i = 0; i < cells.length; i++) putU32(v, i * 4, cells[i]);
        return property(name, v);
    }

    /** A property of big-endian 64-bit values (two cells each, high first). */
    public FdtBuilder propertyU64(String name, long... values) {
        byte[] v = new byte[values.length * 8];
        for (int i = 0; i < values.length; i++) {
            putU32(v, i * 8, (int) (values[i] >>> 32));
            putU32(v, i * 8 + 4, (int) values[i]);
        }
        return property(name, v);
    }

    /** A NUL-terminated string property. */
    public FdtBuilder propertyString(String name, String value) {
        return propertyStrings(name, value);
    }

    /** A string-list property: each string NUL-terminated, one after another. */
    public FdtBuilder propertyStrings(String name, String... values) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (String s : values) {
            if (s.indexOf('\0') >= 0) throw new IllegalArgumentException("NUL in string property " + name);
            b.writeBytes(s.getBytes(StandardCharsets.UTF_8));
            b.write(0);
        }
        return property(name, b.toByteArray());
    }

    /** A property without a value (a flag such as {@code interrupt-controller}). */
    public FdtBuilder propertyEmpty(String name) {
        return property(name, new byte[0]);
    }

    /** Allocates a fresh phandle (1, 2, 3, ...); emit it with {@code propertyU32("phandle", p)}. */
    public int phandle() {
        return nextPhandle++;
    }

    /** Sets the header's {@code boot_cpuid_phys} (the boot hart id; 0 by default). */
    public FdtBuilder bootCpuidPhys(int hart) {
        this.bootCpuidPhys = hart;
        return this;
    }

    /** Ends the tree and returns the blob. The builder cannot be used afterwards. */
    public byte[] finish() {
        checkOpen();
        if (!rootDone || depth != 0) throw new IllegalStateException("unbalanced nodes: root " + (rootDone ? "closed" : "open") + ", depth " + depth);
        token(FDT_END);
        finished = true;

        int offRsvmap = HEADER_SIZE; // 40 is already 8-aligned, as the reservation block must be
        int rsvSize = 16;            // just the terminating (0, 0) entry
        int offStruct = offRsvmap + rsvSize;
        int sizeStruct = struct.size();
        int offStrings = offStruct + sizeStruct;
        int sizeStrings = strings.size();
        int total = align4(offStrings + sizeStrings);

        byte[] out = new byte[total];
        putU32(out, 0, MAGIC);
        putU32(out, 4, total);
        putU32(out, 8, offStruct);
        putU32(out, 12, offStrings);
        putU32(out, 16, offRsvmap);
        putU32(out, 20, VERSION);
        putU32(out, 24, LAST_COMP_VERSION);
        putU32(out, 28, bootCpuidPhys);
        putU32(out, 32, sizeStrings);
        putU32(out, 36, sizeStruct);
        System.arraycopy(struct.toByteArray(), 0, out, offStruct, sizeStruct);
        System.arraycopy(strings.toByteArray(), 0, out, offStrings, sizeStrings);
        return out;
    }

    // ---- helpers ----

    private void checkOpen() {
        if (finished) throw new IllegalStateException("finish() was called");
    }

    private int stringOffset(String name) {
        return stringOffsets.computeIfAbsent(name, n -> {
            int off = strings.size();
            strings.writeBytes(n.getBytes(StandardCharsets.UTF_8));
            strings.write(0);
            return off;
        });
    }

    private void token(int t) {
        u32(struct, t);
    }

    private void writeStringPadded(String s) {
        struct.writeBytes(s.getBytes(StandardCharsets.UTF_8));
        struct.write(0);
        pad(struct);
    }

    private static void pad(ByteArrayOutputStream b) {
        while ((b.size() & 3) != 0) b.write(0);
    }

    private static int align4(int n) {
        return (n + 3) & ~3;
    }

    private static void u32(ByteArrayOutputStream b, int v) {
        b.write(v >>> 24);
        b.write(v >>> 16);
        b.write(v >>> 8);
        b.write(v);
    }

    static void putU32(byte[] a, int off, int v) {
        a[off] = (byte) (v >>> 24);
        a[off + 1] = (byte) (v >>> 16);
        a[off + 2] = (byte) (v >>> 8);
        a[off + 3] = (byte) v;
    }
}
