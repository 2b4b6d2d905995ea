package dev.visor.block;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.function.LongConsumer;

/**
 * Entry points for disk images: open (detecting the format and following backing chains), create,
 * inspect, convert and resize. Every failure is a {@link BlockException} whose message is one line
 * naming the file and the problem, e.g. {@code disk image /x/y.qcow2: L1 table lies past the end of
 * the file (corrupt image?)}.
 */
public final class BlockImages {
    /** Deepest backing chain followed; a cap so that a crafted chain cannot exhaust file handles or stack. */
    public static final int MAX_BACKING_DEPTH = 64;
    /** Convert copies through a buffer of this size. */
    private static final int CONVERT_CHUNK = 1 << 20;
    /** Convert skips runs of zeros of at least this size (the default qcow2 cluster), leaving the output sparse. */
    private static final int SPARSE_GRANULE = 64 << 10;

    private BlockImages() {}

    /**
     * Opens a disk image. {@code format} is "raw", "qcow2" or null to detect it from the file's first
     * bytes (qcow2 magic "QFI\xfb", else raw). Backing files open read-only, at any depth; relative
     * backing names resolve against the directory of the image that names them.
     */
    public static BlockBackend open(Path path, String format, boolean readOnly) throws IOException {
        return open(path, format, readOnly, new ArrayList<>());
    }

    /** "raw" or "qcow2", by the file's magic. */
    public static String detectFormat(Path path) throws IOException {
        String name = "disk image " + path;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer magic = ByteBuffer.allocate(4);
            while (magic.hasRemaining() && ch.read(magic, magic.position()) > 0) { }
            return magic.position() == 4 && magic.getInt(0) == Qcow2Header.MAGIC ? "qcow2" : "raw";
        } catch (FileSystemException e) {
            throw cannotOpen(name, e);
        }
    }

    /** As {@link #create(Path, String, long, Path, String, boolean)}, refusing to replace an existing file. */
    public static void create(Path path, String format, long size, Path backing, String backingFormat) throws IOException {
        create(path, format, size, backing, backingFormat, false);
    }

    /**
     * Creates an empty image: "raw" (a sparse file) or "qcow2" (version 3, 64 KiB clusters, 16-bit
     * refcounts, as {@code qemu-img create -f qcow2}). {@code size} is in bytes, rounded up to a
     * multiple of 512; -1 means the backing file's size. {@code backing} (qcow2 only, may be null) is
     * stored as given and, if relative, is relative to the new image's directory, as with qemu-img;
     * it must open. {@code backingFormat} null means detect it (and store what was detected).
     * An existing file at {@code path} is replaced only if {@code overwrite}.
     */
    public static void create(Path path, String format, long size, Path backing, String backingFormat, boolean overwrite) throws IOException {
        String name = "disk image " + path;
        String fmt = checkFormat(name, Objects.requireNonNull(format, "format"));
        String backingName = null;
        if (backing != null) {
            if (fmt.equals("raw")) throw new BlockException(name + ": a raw image cannot have a backing file");
            Path resolved = Qcow2Image.resolveBacking(name, path, backing.toString());
            if (Files.exists(path) && Files.exists(resolved) && Files.isSameFile(path, resolved)) {
                throw new BlockException(name + ": an image cannot be its own backing file");
            }
            try (BlockBackend b = open(resolved, backingFormat, true)) {
                if (size < 0) size = b.size();
                backingFormat = b.format();
            }
            backingName = backing.toString();
        }
        if (size < 0) throw new BlockException(name + ": a size is needed (or a backing file to take it from)");
        long rounded = Math.ceilDiv(size, 512) * 512;

        FileChannel ch;
        try {
            ch = overwrite
                    ? FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.READ, StandardOpenOption.WRITE)
                    : FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (FileAlreadyExistsException e) {
            throw new BlockException(name + ": file already exists (refusing to overwrite it)");
        } catch (FileSystemException e) {
            throw cannotOpen(name, e);
        }
        boolean done = false;
        try (ch) {
            if (fmt.equals("raw")) {
                if (rounded > 0) FileIo.write(ch, rounded - 1, ByteBuffer.allocate(1)); // sparse: only the last byte is written
            } else {
                Qcow2Creator.write(ch, name, rounded, backingName, backingFormat, Qcow2Creator.DEFAULT_CLUSTER_BITS);
            }
            done = true;
        } finally {
            if (!done) Files.deleteIfExists(path);
        }
    }

    /** Reads an image's header (not its backing chain, which need not exist). */
    public static ImageInfo info(Path path) throws IOException {
        String format = detectFormat(path);
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long length = ch.size();
            if (format.equals("raw")) return new ImageInfo(path, "raw", length, length, 0, 0, null, null);
            Qcow2Header h = Qcow2Header.read(ch, path.toString());
            return new ImageInfo(path, "qcow2", h.size, length, (int) h.clusterSize(), h.version, h.backingFile, h.backingFormat);
        } catch (FileSystemException e) {
            throw cannotOpen("disk image " + path, e);
        }
    }

    /** As {@link #convert(Path, String, Path, String, LongConsumer, boolean)}, refusing to replace an existing file. */
    public static void convert(Path src, String srcFormat, Path dst, String dstFormat, LongConsumer progressBytes) throws IOException {
        convert(src, srcFormat, dst, dstFormat, progressBytes, false);
    }

    /**
     * Copies the whole disk {@code src} (read through its backing chain; {@code srcFormat} null to
     * detect) into a new standalone image {@code dst} of format {@code dstFormat}, leaving runs of
     * zeros unwritten so the output is sparse. {@code progressBytes}, if not null, is called after
     * each chunk with the number of source bytes done so far. A failed convert deletes {@code dst}.
     */
    public static void convert(Path src, String srcFormat, Path dst, String dstFormat, LongConsumer progressBytes, boolean overwrite) throws IOException {
        if (Files.exists(dst) && Files.isSameFile(src, dst)) throw new BlockException("disk image " + dst + ": cannot convert an image onto itself");
        try (BlockBackend in = open(src, srcFormat, true)) {
            long size = in.size();
            create(dst, dstFormat, size, null, null, overwrite);
            boolean done = false;
            try (BlockBackend out = open(dst, dstFormat, false); Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(CONVERT_CHUNK, 4096);
                for (long at = 0; at < size; at += CONVERT_CHUNK) {
                    int n = (int) Math.min(CONVERT_CHUNK, size - at);
                    in.read(at, buf.asSlice(0, n));
                    copyNonZero(buf, n, out, at);
                    if (progressBytes != null) progressBytes.accept(at + n);
                }
                out.flush();
                done = true;
            } finally {
                if (!done) Files.deleteIfExists(dst);
            }
        }
    }

    /** Grows an image (raw or qcow2) to {@code newSize} bytes, a multiple of 512. */
    public static void resize(Path path, long newSize) throws IOException {
        try (BlockBackend b = open(path, null, false)) {
            b.resize(newSize);
            b.flush();
        }
    }

    // ---- internals ----

    private static BlockBackend open(Path path, String format, boolean readOnly, List<Path> chain) throws IOException {
        String name = "disk image " + path;
        Path real;
        try {
            real = path.toRealPath();
        } catch (NoSuchFileException e) {
            throw new BlockException(name + ": no such file");
        } catch (FileSystemException e) {
            throw cannotOpen(name, e);
        }
        if (chain.contains(real)) {
            StringBuilder loop = new StringBuilder();
            for (Path p : chain) loop.append(p).append(" -> ");
            throw new BlockException(name + ": backing file loop: " + loop + real);
        }
        if (chain.size() >= MAX_BACKING_DEPTH) throw new BlockException(name + ": backing chain is deeper than " + MAX_BACKING_DEPTH + " images");
        String fmt = format == null ? detectFormat(path) : checkFormat(name, format);
        // Each image has at most one backing file, so the chain is a path from the top image down.
        chain.add(real);
        try {
            if (fmt.equals("raw")) return RawImage.open(path, readOnly);
            return Qcow2Image.open(path, readOnly, (backing, backingFormat) -> {
                if (!Files.exists(backing)) throw new BlockException(name + ": backing file " + backing + " does not exist");
                return open(backing, backingFormat, true, chain);
            });
        } catch (FileSystemException e) {
            throw cannotOpen(name, e);
        }
    }

    /** Writes the non-zero parts of the first {@code n} bytes of {@code buf} to {@code out} at {@code at}, in runs. */
    private static void copyNonZero(MemorySegment buf, int n, BlockBackend out, long at) throws IOException {
        int runStart = -1;
        for (int k = 0; k <= n; k += SPARSE_GRANULE) {
            boolean data = k < n && !Zeros.isZero(buf.asSlice(k, Math.min(SPARSE_GRANULE, n - k)));
            if (data && runStart < 0) runStart = k;
            if (!data && runStart >= 0) {
                int end = Math.min(k, n);
                out.write(at + runStart, buf.asSlice(runStart, end - runStart));
                runStart = -1;
            }
        }
        if (runStart >= 0) out.write(at + runStart, buf.asSlice(runStart, n - runStart));
    }

    private static String checkFormat(String name, String format) throws BlockException {
        String f = format.toLowerCase(Locale.ROOT);
        if (!f.equals("raw") && !f.equals("qcow2")) throw new BlockException(name + ": unknown image format '" + format + "' (use raw or qcow2)");
        return f;
    }

    private static BlockException cannotOpen(String name, FileSystemException e) {
        String reason = e instanceof NoSuchFileException ? "no such file"
                : e.getReason() != null ? e.getReason() : e.getClass().getSimpleName();
        return new BlockException(name + ": cannot open: " + reason, e);
    }
}
