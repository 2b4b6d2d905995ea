package dev.visor.images;

import org.apache.commons.compress.archivers.ar.ArArchiveEntry;
import org.apache.commons.compress.archivers.ar.ArArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.bzip2.BZip2CompressorInputStream;
import org.tukaani.xz.XZInputStream;

import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.zip.GZIPInputStream;

/**
 * Reads a Debian binary package ({@code .deb}) without dpkg.
 *
 * <p>A {@code .deb} is an {@code ar} archive: {@code debian-binary} ("2.0"), then
 * {@code control.tar.*} (the package's metadata) and {@code data.tar.*} (the files it installs).
 * The tar members may be xz, gzip or bzip2 compressed or plain; zstd and others are refused with a
 * clear message (Debian's own archive uses xz).
 *
 * <p>Paths are given as the package would install them, relative and without the leading
 * {@code ./} the tar stores: {@code "usr/bin/busybox"}. Only regular files are visited; directories,
 * symbolic links and hard links are skipped. Each method reads the package once, from the start.
 */
public final class DebPackage {
    private final Path file;

    /** The package in {@code file}; nothing is read until a method asks. */
    public DebPackage(Path file) {
        this.file = file;
    }

    /** Receives one regular file of the package; {@code content} is valid only during the call. */
    @FunctionalInterface
    public interface FileVisitor {
        void visit(String path, long size, InputStream content) throws IOException;
    }

    /** The package file. */
    public Path file() {
        return file;
    }

    /**
     * A predicate on package paths from a glob as {@link FileSystems#getDefault()} understands it:
     * {@code *} stays within one directory, {@code **} crosses directories, e.g.
     * {@code "usr/lib/modules/*}{@code /kernel/**}{@code /virtio_*.ko.xz"}.
     */
    public static Predicate<String> glob(String pattern) {
        PathMatcher matcher = FileSystems.getDefault().getPathMatcher("glob:" + pattern);
        return path -> matcher.matches(Path.of(path));
    }

    /** Calls {@code visitor} for each regular file of the data archive that {@code wanted} accepts, in archive order. */
    public void forEachFile(Predicate<String> wanted, FileVisitor visitor) throws IOException {
        visitMember("data.tar", wanted, visitor);
    }

    /** The paths of all regular files the package installs. */
    public List<String> list() throws IOException {
        List<String> paths = new ArrayList<>();
        forEachFile(p -> true, (path, size, in) -> paths.add(path));
        return paths;
    }

    /** The content of every wanted file, by path, in archive order. Meant for small files. */
    public Map<String, byte[]> readFiles(Predicate<String> wanted) throws IOException {
        Map<String, byte[]> files = new LinkedHashMap<>();
        forEachFile(wanted, (path, size, in) -> files.put(path, in.readAllBytes()));
        return files;
    }

    /** The content of one file, if the package has it. */
    public Optional<byte[]> readFile(String path) throws IOException {
        String wanted = normalize(path);
        return Optional.ofNullable(readFiles(wanted::equals).get(wanted));
    }

    /**
     * Writes every wanted file below {@code destination}, keeping its package path
     * ({@code usr/bin/busybox} becomes {@code destination/usr/bin/busybox}). Returns the written files.
     */
    public List<Path> extract(Predicate<String> wanted, Path destination) throws IOException {
        Path root = destination.toAbsolutePath().normalize();
        List<Path> written = new ArrayList<>();
        forEachFile(wanted, (path, size, in) -> {
            Path target = root.resolve(path).normalize();
            // A crafted archive could name "../x"; never write outside the destination.
            if (!target.startsWith(root)) throw new ImageException(file + ": entry escapes the destination: " + path);
            Files.createDirectories(target.getParent());
            Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
            written.add(target);
        });
        return written;
    }

    /**
     * The fields of the package's {@code control} file, e.g. {@code Package}, {@code Version},
     * {@code Architecture}, {@code Depends}. Continuation lines are joined with a newline.
     */
    public Map<String, String> control() throws IOException {
        byte[][] control = new byte[1][];
        visitMember("control.tar", "control"::equals, (path, size, in) -> control[0] = in.readAllBytes());
        if (control[0] == null) throw new ImageException(file + ": the package has no control file");
        return parseFields(new String(control[0], StandardCharsets.UTF_8));
    }

    /** Parses one deb822 stanza ("Field: value" lines, continuation lines start with a blank). */
    static Map<String, String> parseFields(String text) {
        Map<String, String> fields = new LinkedHashMap<>();
        String last = null;
        for (String line : text.split("\n")) {
            if (line.isBlank()) {
                if (!fields.isEmpty()) break; // end of the first stanza
                continue;
            }
            if ((line.startsWith(" ") || line.startsWith("\t")) && last != null) {
                fields.merge(last, "\n" + line.strip(), String::concat);
                continue;
            }
            int colon = line.indexOf(':');
            if (colon <= 0) continue;
            last = line.substring(0, colon).strip();
            fields.put(last, line.substring(colon + 1).strip());
        }
        return fields;
    }

    /** Finds the ar member named {@code prefix + compression suffix} and visits its tar entries. */
    private void visitMember(String prefix, Predicate<String> wanted, FileVisitor visitor) throws IOException {
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
             ArArchiveInputStream ar = new ArArchiveInputStream(raw)) {
            boolean first = true;
            ArArchiveEntry member;
            while ((member = ar.getNextEntry()) != null) {
                String name = member.getName();
                if (name.endsWith("/")) name = name.substring(0, name.length() - 1); // GNU ar style
                if (first && !name.equals("debian-binary")) {
                    throw new ImageException(file + ": not a Debian package (first ar member is '" + name + "')");
                }
                first = false;
                if (name.equals(prefix) || name.startsWith(prefix + ".")) {
                    try (InputStream tarStream = decompress(name, nonClosing(ar));
                         TarArchiveInputStream tar = new TarArchiveInputStream(tarStream)) {
                        visitTar(tar, wanted, visitor);
                    }
                    return;
                }
            }
            if (first) throw new ImageException(file + ": empty file, not a Debian package");
            throw new ImageException(file + ": the package has no " + prefix + " member");
        } catch (IOException e) {
            if (e instanceof ImageException) throw e;
            throw new ImageException("cannot read package " + file + ": " + e.getMessage(), e);
        }
    }

    private void visitTar(TarArchiveInputStream tar, Predicate<String> wanted, FileVisitor visitor) throws IOException {
        TarArchiveEntry entry;
        while ((entry = tar.getNextEntry()) != null) {
            // Only plain files: isFile() alone is also true for hard and symbolic links.
            byte type = entry.getLinkFlag();
            if (type != TarArchiveEntry.LF_NORMAL && type != TarArchiveEntry.LF_OLDNORM && type != TarArchiveEntry.LF_CONTIG) {
                continue;
            }
            String path = normalize(entry.getName());
            if (!path.isEmpty() && wanted.test(path)) {
                visitor.visit(path, entry.getSize(), nonClosing(tar));
            }
        }
    }

    private InputStream decompress(String member, InputStream in) throws IOException {
        String compression = member.substring(member.indexOf(".tar") + 4);
        return switch (compression) {
            case "" -> in;
            case ".xz" -> new XZInputStream(in);
            case ".gz" -> new GZIPInputStream(in, 1 << 16);
            case ".bz2" -> new BZip2CompressorInputStream(in);
            default -> throw new ImageException(file + ": member " + member + " uses a compression Visor cannot read"
                    + " (supported: xz, gz, bz2, none)");
        };
    }

    /** Strips the "./" or "/" a tar entry name starts with. */
    static String normalize(String name) {
        String path = name;
        while (path.startsWith("./")) path = path.substring(2);
        while (path.startsWith("/")) path = path.substring(1);
        if (path.equals(".")) return "";
        return path;
    }

    /** Keeps a visitor (or a closing decompressor) from closing the archive stream underneath. */
    private static InputStream nonClosing(InputStream in) {
        return new FilterInputStream(in) {
            @Override
            public void close() {}
        };
    }
}
