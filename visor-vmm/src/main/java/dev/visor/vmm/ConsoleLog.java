package dev.visor.vmm;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * A copy of the console output in a file ({@code visor run --serial-log FILE}): appended to, so a VM
 * started again keeps its history; once it passes {@value #ROTATE_BYTES} bytes it becomes FILE.1
 * (replacing an older one) and a new FILE begins, so a chatty guest cannot fill the disk. A new file
 * is made readable by this user only: consoles show what people type.
 *
 * <p>Written from the console's buffer ({@link ConsoleOutput} hands over a few KiB at a time, at most
 * every few milliseconds), through a direct buffer made once, so a write is one system call into the
 * page cache and allocates nothing. A failing write (a full disk) never stops the guest: it is
 * reported once, and the log goes on when writing works again.
 */
public final class ConsoleLog extends OutputStream {
    /** Size past which the file is rotated. */
    public static final long ROTATE_BYTES = 16L << 20;

    private final Path path;
    private final Path previous;
    private final long limit;
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(16 << 10);
    private final byte[] one = new byte[1];
    /** Null after a rotation that could not open the new file: opened again on the next write. */
    private FileChannel file;
    private long size;
    /** The last write failed (and was reported). */
    private boolean failing;
    private boolean closed;

    private ConsoleLog(Path path, long limit, FileChannel file) throws IOException {
        this.path = path;
        this.previous = path.resolveSibling(path.getFileName() + ".1");
        this.limit = limit;
        this.file = file;
        this.size = file.size();
    }

    /** Opens FILE for appending, creating it (mode 0600) if it is missing; the error names the file. */
    public static ConsoleLog open(Path path) throws IOException {
        return open(path, ROTATE_BYTES);
    }

    /** As {@link #open(Path)}, rotating past {@code limit} bytes, for tests. */
    static ConsoleLog open(Path path, long limit) throws IOException {
        try {
            return new ConsoleLog(path, limit, openFile(path));
        } catch (IOException e) {
            throw new IOException("--serial-log " + path + ": " + reason(e), e);
        }
    }

    private static FileChannel openFile(Path path) throws IOException {
        Set<StandardOpenOption> options = Set.of(StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
        try {
            return FileChannel.open(path, options, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (UnsupportedOperationException e) {
            return FileChannel.open(path, options); // not a POSIX file system
        }
    }

    @Override
    public synchronized void write(int b) {
        one[0] = (byte) b;
        write(one, 0, 1);
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) {
        if (closed) return;
        try {
            if (file == null) {
                file = openFile(path);
                size = file.size();
            }
            while (len > 0) {
                int n = Math.min(len, buffer.capacity());
                buffer.clear();
                buffer.put(b, off, n).flip();
                while (buffer.hasRemaining()) size += file.write(buffer);
                off += n;
                len -= n;
            }
            if (size > limit) rotate();
            if (failing) {
                failing = false;
                System.err.println("visor: --serial-log " + path + ": writing works again (some console output is missing)");
            }
        } catch (IOException e) {
            if (!failing) {
                failing = true;
                System.err.println("visor: --serial-log " + path + ": " + reason(e) + "; console output is not logged until writing works again");
            }
        }
    }

    /** FILE becomes FILE.1 (replacing an older one) and a new, empty FILE begins. */
    private void rotate() throws IOException {
        FileChannel old = file;
        file = null;
        old.close();
        Files.move(path, previous, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        file = openFile(path);
        size = 0;
    }

    @Override
    public synchronized void close() throws IOException {
        if (closed) return;
        closed = true;
        if (file != null) file.close();
    }

    private static String reason(IOException e) {
        if (e instanceof java.nio.file.NoSuchFileException) return "no such file or directory";
        if (e instanceof java.nio.file.AccessDeniedException) return "permission denied";
        if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) return f.getReason();
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }
}
