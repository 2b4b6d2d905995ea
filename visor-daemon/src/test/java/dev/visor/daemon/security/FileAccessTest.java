package dev.visor.daemon.security;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The readability computation: owner, group and other bits of a file and of every directory above it. */
class FileAccessTest {
    private static final int U = 200_001;
    private static final Set<Integer> GROUPS = Set.of(U, Isolation.VMM_GROUP);

    /** A made-up file system: path → owner, group, mode. */
    private final Map<Path, FileAccess.Meta> files = new HashMap<>();
    private final FileAccess.Stat fake = p -> {
        FileAccess.Meta m = files.get(p);
        if (m == null) throw new NoSuchFileException(p.toString());
        return m;
    };

    private void dir(String p, int uid, int gid, int perms) { files.put(Path.of(p), new FileAccess.Meta(uid, gid, 0040000 | perms)); }

    private void file(String p, int uid, int gid, int perms) { files.put(Path.of(p), new FileAccess.Meta(uid, gid, 0100000 | perms)); }

    @Test
    void theOwnerClassDecidesAloneEvenWhenOthersMayMore() {
        FileAccess.Meta m = new FileAccess.Meta(U, 0, 0100007); // ------rwx: its owner may nothing
        assertFalse(FileAccess.permits(m, U, GROUPS, FileAccess.READ));
        assertTrue(FileAccess.permits(m, U + 1, Set.of(), FileAccess.READ | FileAccess.WRITE));
        FileAccess.Meta g = new FileAccess.Meta(0, Isolation.VMM_GROUP, 0100640);
        assertTrue(FileAccess.permits(g, U, GROUPS, FileAccess.READ));
        assertFalse(FileAccess.permits(g, U, GROUPS, FileAccess.WRITE));
        assertFalse(FileAccess.permits(g, U, Set.of(U), FileAccess.READ), "not in the group: other bits (none)");
    }

    @Test
    void aFileUnderRootsHomeIsUnreadableHoweverOpenItsOwnModeIs() throws IOException {
        dir("/", 0, 0, 0755);
        dir("/root", 0, 0, 0700);
        dir("/root/.m2", 0, 0, 0755);
        file("/root/.m2/a.jar", 0, 0, 0644);
        dir("/usr", 0, 0, 0755);
        file("/usr/java", 0, 0, 0755);
        assertFalse(FileAccess.canRead(Path.of("/root/.m2/a.jar"), U, GROUPS, fake));
        assertEquals(Path.of("/root"), FileAccess.blockingDirectory(Path.of("/root/.m2/a.jar"), U, GROUPS, fake));
        assertTrue(FileAccess.canRead(Path.of("/usr/java"), U, GROUPS, fake));
        assertNull(FileAccess.blockingDirectory(Path.of("/usr/java"), U, GROUPS, fake));
    }

    @Test
    void theStateDirIsPassedThroughButOnlyTheVmsOwnFilesAreReadable() throws IOException {
        dir("/", 0, 0, 0755);
        dir("/var", 0, 0, 0755);
        dir("/var/lib", 0, 0, 0755);
        dir("/var/lib/visor", 0, 0, 0711);
        file("/var/lib/visor/visor.db", 0, 0, 0600);
        file("/var/lib/visor/admin.token", 0, 0, 0600);
        dir("/var/lib/visor/run", 0, 0, 0711);
        dir("/var/lib/visor/run/1", U, U, 0700);
        dir("/var/lib/visor/run/2", U + 1, U + 1, 0700);
        dir("/var/lib/visor/images", 0, Isolation.VMM_GROUP, 01730);
        file("/var/lib/visor/images/mine.raw", U, U, 0600);
        file("/var/lib/visor/images/other.raw", U + 1, U + 1, 0600);
        file("/var/lib/visor/images/shared.raw", 0, Isolation.VMM_GROUP, 0640);
        file("/var/lib/visor/images/fresh.raw", 0, 0, 0640);

        assertFalse(FileAccess.canRead(Path.of("/var/lib/visor"), U, GROUPS, fake), "the state dir cannot be listed");
        assertTrue(FileAccess.canReach(Path.of("/var/lib/visor/run/1/ctl"), U, GROUPS, fake));
        assertFalse(FileAccess.canRead(Path.of("/var/lib/visor/visor.db"), U, GROUPS, fake));
        assertFalse(FileAccess.canRead(Path.of("/var/lib/visor/admin.token"), U, GROUPS, fake));
        assertTrue(FileAccess.canRead(Path.of("/var/lib/visor/run/1"), U, GROUPS, fake));
        assertFalse(FileAccess.canRead(Path.of("/var/lib/visor/run/2"), U, GROUPS, fake));
        assertFalse(FileAccess.canRead(Path.of("/var/lib/visor/images"), U, GROUPS, fake), "images/ cannot be listed");
        assertTrue(FileAccess.canRead(Path.of("/var/lib/visor/images/mine.raw"), U, GROUPS, fake));
        assertFalse(FileAccess.canRead(Path.of("/var/lib/visor/images/other.raw"), U, GROUPS, fake));
        assertTrue(FileAccess.canRead(Path.of("/var/lib/visor/images/shared.raw"), U, GROUPS, fake));
        assertFalse(FileAccess.canRead(Path.of("/var/lib/visor/images/fresh.raw"), U, GROUPS, fake));
        // without the VMM group, images/ is closed
        assertFalse(FileAccess.canReach(Path.of("/var/lib/visor/images/mine.raw"), U, Set.of(U), fake));
    }

    @Test
    void aTreeIsReadableOnlyWhenEverythingInItIs(@TempDir Path tmp) throws IOException {
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path classes = Files.createDirectories(tmp.resolve("classes/dev/visor"));
        Path cls = Files.writeString(classes.resolve("A.class"), "x");
        Files.setPosixFilePermissions(cls, PosixFilePermissions.fromString("rw-r--r--"));
        for (Path d : new Path[] {tmp.resolve("classes"), classes}) Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwxr-xr-x"));
        boolean reachable = FileAccess.canReach(tmp, U, GROUPS, FileAccess.REAL); // /tmp's parents are open on any sane host
        if (!reachable) return;
        assertTrue(FileAccess.canReadTree(tmp.resolve("classes"), U, GROUPS, FileAccess.REAL));
        Files.setPosixFilePermissions(cls, PosixFilePermissions.fromString("rw-------"));
        assertFalse(FileAccess.canReadTree(tmp.resolve("classes"), U, GROUPS, FileAccess.REAL));
        assertTrue(FileAccess.canReadTree(tmp.resolve("classes"), 0, Set.of(), FileAccess.REAL), "root reads anything");
    }
}
