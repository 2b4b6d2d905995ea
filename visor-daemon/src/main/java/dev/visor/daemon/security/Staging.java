package dev.visor.daemon.security;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Readable copies of files a VMM user cannot read where they are: the daemon's class path in
 * ~/.m2 (/root is 0700) and the guest image in /root/.cache/visor. {@code stage(root, entries)}
 * puts each entry (a file or a directory tree) at its name under {@code root/KEY/}, where KEY
 * hashes the sources' paths, sizes and modification times: an unchanged set is reused, a changed
 * one gets a new directory. Directories are 0755 and files 0644: the copies hold nothing secret
 * (code and a public guest image), and every VM user needs them.
 *
 * <p>A file that others may read already is hard-linked rather than copied (cheap, and the source's
 * mode is kept, so nothing of the source changes); only when that fails (another file system) or
 * the file is not others-readable is it copied.
 *
 * <p>Stages of earlier sets are kept: a running VMM may still load classes from one. They can be
 * removed (STATE/lib, STATE/cache) while no VM runs.
 */
final class Staging {
    private Staging() {}

    /** Stages {@code entries} (name in the stage → source) and returns the stage directory. */
    static Path stage(Path root, Map<String, Path> entries) throws IOException {
        Path dir = root.resolve(key(entries));
        if (Files.isDirectory(dir)) return dir;
        Files.createDirectories(root);
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));
        // built aside and renamed into place, so a stage that exists is complete
        Path tmp = Files.createTempDirectory(root, ".stage-");
        try {
            for (var e : entries.entrySet()) copyTree(e.getValue(), tmp.resolve(e.getKey()));
            try (Stream<Path> s = Files.walk(tmp)) { // every directory, also the parents of nested names
                for (Path d : s.filter(Files::isDirectory).toList()) Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwxr-xr-x"));
            }
            try {
                Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                if (!Files.isDirectory(dir)) throw e; // else another launch staged the same set meanwhile
            }
        } finally {
            deleteTree(tmp);
        }
        return dir;
    }

    /** The stage's name: a hash of each entry's name and every file's path, size and mtime under its source. */
    static String key(Map<String, Path> entries) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        for (var e : new java.util.TreeMap<>(entries).entrySet()) {
            Path src = e.getValue().toRealPath();
            md.update((e.getKey() + "\0" + src + "\0").getBytes(StandardCharsets.UTF_8));
            try (Stream<Path> s = Files.walk(src)) {
                for (Path p : (Iterable<Path>) s.sorted()::iterator) {
                    BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                    md.update((src.relativize(p) + "\0" + a.size() + "\0" + a.lastModifiedTime().toMillis() + "\n")
                            .getBytes(StandardCharsets.UTF_8));
                }
            }
        }
        return HexFormat.of().formatHex(md.digest(), 0, 12);
    }

    private static void copyTree(Path source, Path target) throws IOException {
        Path src = source.toRealPath();
        try (Stream<Path> s = Files.walk(src)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path t = target.resolve(src.relativize(p).toString());
                if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    Files.createDirectories(t);
                    Files.setPosixFilePermissions(t, PosixFilePermissions.fromString("rwxr-xr-x"));
                } else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                    Files.createDirectories(t.getParent());
                    int mode = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
                    boolean linked = false;
                    if ((mode & 4) != 0) {
                        try {
                            Files.createLink(t, p);
                            linked = true;
                        } catch (IOException | UnsupportedOperationException e) {
                            // another file system (EXDEV) or no hard links: copy
                        }
                    }
                    if (!linked) {
                        Files.copy(p, t);
                        Files.setPosixFilePermissions(t, PosixFilePermissions.fromString("rw-r--r--"));
                    }
                }
                // symbolic links and special files are left out: class paths and images have none
            }
        }
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        }
    }
}
