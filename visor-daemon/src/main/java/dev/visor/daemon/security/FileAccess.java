package dev.visor.daemon.security;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * What a user could do with a file, worked out from the owner, group and mode of the file and of
 * every directory on its path, as the kernel decides (POSIX ACLs and capabilities aside: the
 * daemon sets none). Used to find what a VMM user cannot read before its VMM fails on it; asking
 * the kernel instead ({@code setpriv ... test -r}) would cost a process per file.
 */
final class FileAccess {
    static final int READ = 4, WRITE = 2, EXECUTE = 1;
    private static final int TYPE_MASK = 0170000, DIRECTORY = 0040000, SYMLINK = 0120000;

    /** A file's owner, group and mode (st_mode: type and permission bits). */
    record Meta(int uid, int gid, int mode) {
        boolean directory() { return (mode & TYPE_MASK) == DIRECTORY; }

        boolean symlink() { return (mode & TYPE_MASK) == SYMLINK; }

        int permissions() { return mode & 07777; }
    }

    /** Reads a file's {@link Meta}, not following a final symbolic link; a seam for tests. */
    interface Stat {
        Meta of(Path p) throws IOException;
    }

    static final Stat REAL = p -> {
        Map<String, Object> a = Files.readAttributes(p, "unix:uid,gid,mode", LinkOption.NOFOLLOW_LINKS);
        return new Meta((Integer) a.get("uid"), (Integer) a.get("gid"), (Integer) a.get("mode"));
    };

    private FileAccess() {}

    /** Whether {@code uid} (with groups {@code gids}) has all of {@code want} (READ|WRITE|EXECUTE bits) on a file with {@code m}. */
    static boolean permits(Meta m, int uid, Set<Integer> gids, int want) {
        if (uid == 0) return true; // not asked in practice: the daemon asks for VMM users only
        int bits = m.uid() == uid ? m.mode() >> 6 : gids.contains(m.gid()) ? m.mode() >> 3 : m.mode();
        return (bits & want & 7) == (want & 7);
    }

    /** Whether the user may pass through every directory above {@code p} (absolute, no symbolic links in it). */
    static boolean canReach(Path p, int uid, Set<Integer> gids, Stat stat) throws IOException {
        for (Path dir = p.getParent(); dir != null; dir = dir.getParent()) {
            if (!permits(stat.of(dir), uid, gids, EXECUTE)) return false;
        }
        return true;
    }

    /** The first directory above {@code p} the user may not pass through, or null when there is none. */
    static Path blockingDirectory(Path p, int uid, Set<Integer> gids, Stat stat) throws IOException {
        Path blocking = null;
        for (Path dir = p.getParent(); dir != null; dir = dir.getParent()) {
            if (!permits(stat.of(dir), uid, gids, EXECUTE)) blocking = dir; // keep going: the topmost one is the one to name
        }
        return blocking;
    }

    /** Whether the user may read {@code p} (a directory: list and enter it). */
    static boolean canRead(Path p, int uid, Set<Integer> gids, Stat stat) throws IOException {
        Meta m = stat.of(p);
        return canReach(p, uid, gids, stat) && permits(m, uid, gids, m.directory() ? READ | EXECUTE : READ);
    }

    /**
     * Whether the user may read {@code p} and, when it is a directory, everything in it. Symbolic
     * links are resolved for {@code p} itself; links inside a tree count as unreadable (to be
     * staged), which is rare and safe.
     */
    static boolean canReadTree(Path p, int uid, Set<Integer> gids, Stat stat) throws IOException {
        Path real = p.toRealPath();
        if (!canRead(real, uid, gids, stat)) return false;
        if (!stat.of(real).directory()) return true;
        try (Stream<Path> s = Files.walk(real)) {
            for (Path q : (Iterable<Path>) s::iterator) {
                Meta m = stat.of(q);
                if (m.symlink() || !permits(m, uid, gids, m.directory() ? READ | EXECUTE : READ)) return false;
            }
        }
        return true;
    }
}
