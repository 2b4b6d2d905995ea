package dev.visor.images;

import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;

/**
 * Writes a cpio archive in the SVR4 "newc" format, the one the Linux kernel unpacks as an
 * initramfs.
 *
 * <p>Every entry gets owner 0:0, modification time 0 and a fresh inode number counted from 1, so
 * the same calls always produce the same bytes (an initramfs is cached and compared by content).
 * Paths are stored relative ({@code "bin/busybox"}); a leading {@code /} is dropped. Hard links
 * are not supported. Call {@link #finish()} (or {@link #close()}) to write the trailer.
 *
 * <pre>
 *   try (var cpio = new CpioWriter(out)) {
 *       cpio.directory("bin", 0755);
 *       cpio.file("bin/busybox", 0755, bytes);
 *       cpio.charDevice("dev/console", 0600, 5, 1);
 *   }
 * </pre>
 */
public final class CpioWriter implements Closeable {
    // File type bits of st_mode, as in <sys/stat.h>.
    static final int S_IFDIR = 0040000;
    static final int S_IFREG = 0100000;
    static final int S_IFLNK = 0120000;
    static final int S_IFCHR = 0020000;

    private static final String MAGIC = "070701";
    private static final String TRAILER = "TRAILER!!!";

    private final OutputStream out;
    private final Set<String> written = new HashSet<>();
    private long offset;      // bytes written so far, for the 4-byte alignment newc requires
    private int nextInode = 1;
    private boolean finished;

    /** Writes to {@code out}; {@link #close()} closes it, {@link #finish()} does not. */
    public CpioWriter(OutputStream out) {
        this.out = out;
    }

    /** Adds a directory; {@code permissions} are the low 12 mode bits, e.g. {@code 0755}. */
    public void directory(String path, int permissions) throws IOException {
        entry(path, S_IFDIR | checkPermissions(permissions), 2, 0, 0, new byte[0]);
    }

    /** Adds a regular file with the given content. */
    public void file(String path, int permissions, byte[] content) throws IOException {
        entry(path, S_IFREG | checkPermissions(permissions), 1, 0, 0, content);
    }

    /** Adds a symbolic link; newc stores the target as the entry's data. */
    public void symlink(String path, String target) throws IOException {
        entry(path, S_IFLNK | 0777, 1, 0, 0, target.getBytes(StandardCharsets.UTF_8));
    }

    /** Adds a character device node, e.g. {@code dev/console} is (5, 1). */
    public void charDevice(String path, int permissions, int major, int minor) throws IOException {
        entry(path, S_IFCHR | checkPermissions(permissions), 1, major, minor, new byte[0]);
    }

    /** Writes the trailer entry and flushes; further entries are refused. */
    public void finish() throws IOException {
        if (finished) return;
        header(TRAILER, 0, 0, 1, 0, 0, 0);
        finished = true;
        out.flush();
    }

    /** Finishes the archive and closes the underlying stream. */
    @Override
    public void close() throws IOException {
        try {
            finish();
        } finally {
            out.close();
        }
    }

    private void entry(String path, int mode, int nlink, int rdevMajor, int rdevMinor, byte[] data)
            throws IOException {
        if (finished) throw new IllegalStateException("cpio archive already finished");
        String name = normalize(path);
        if (!written.add(name)) throw new IllegalArgumentException("duplicate cpio entry: " + name);
        header(name, nextInode++, mode, nlink, data.length, rdevMajor, rdevMinor);
        write(data);
        pad();
    }

    private void header(String name, int inode, int mode, int nlink, int size, int rdevMajor, int rdevMinor)
            throws IOException {
        byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        StringBuilder h = new StringBuilder(110).append(MAGIC);
        hex(h, inode);
        hex(h, mode);
        hex(h, 0);                    // uid
        hex(h, 0);                    // gid
        hex(h, nlink);
        hex(h, 0);                    // mtime: fixed, so the archive is reproducible
        hex(h, size);
        hex(h, 0);                    // devmajor of the file system the entry came from
        hex(h, 0);                    // devminor
        hex(h, rdevMajor);
        hex(h, rdevMinor);
        hex(h, nameBytes.length + 1); // name size counts the terminating NUL
        hex(h, 0);                    // check: only used by the "crc" variant (070702)
        write(h.toString().getBytes(StandardCharsets.US_ASCII));
        write(nameBytes);
        write(new byte[] {0});
        pad();                        // header + name are padded to a multiple of 4
    }

    private static void hex(StringBuilder h, long value) {
        String s = Long.toHexString(value & 0xffffffffL);
        h.append("0".repeat(8 - s.length())).append(s);
    }

    private void write(byte[] bytes) throws IOException {
        out.write(bytes);
        offset += bytes.length;
    }

    private void pad() throws IOException {
        int fill = (int) (-offset & 3);
        if (fill > 0) write(new byte[fill]);
    }

    private static int checkPermissions(int permissions) {
        if ((permissions & ~07777) != 0) {
            throw new IllegalArgumentException("permissions must fit in 07777: " + Integer.toOctalString(permissions));
        }
        return permissions;
    }

    private static String normalize(String path) {
        String name = path;
        while (name.startsWith("/")) name = name.substring(1);
        while (name.endsWith("/")) name = name.substring(0, name.length() - 1);
        if (name.isEmpty() || name.equals(TRAILER)) throw new IllegalArgumentException("bad cpio path: '" + path + "'");
        for (String part : name.split("/")) {
            if (part.isEmpty() || part.equals(".") || part.equals("..")) {
                throw new IllegalArgumentException("bad cpio path: '" + path + "'");
            }
        }
        return name;
    }
}
