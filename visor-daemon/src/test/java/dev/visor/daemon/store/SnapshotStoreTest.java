package dev.visor.daemon.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.visor.daemon.model.SnapshotInfo;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SnapshotStoreTest {
    @TempDir
    Path dir;
    Database db;
    SnapshotStore snapshots;

    @BeforeEach
    void open() throws StoreException {
        db = Database.open(dir.resolve("visor.db"));
        snapshots = new SnapshotStore(db);
    }

    @AfterEach
    void close() {
        db.close();
    }

    static SnapshotInfo snap(String vm, String name, String created) {
        return new SnapshotInfo(vm, name, "/var/lib/visor/snapshots/" + vm + "/" + name, 123_456_789L,
                Instant.parse(created));
    }

    @Test
    void addFindListDelete() throws Exception {
        SnapshotInfo s1 = snap("web", "s1", "2026-11-28T10:00:00Z");
        assertEquals(s1, snapshots.add(s1));
        assertEquals(Optional.of(s1), snapshots.find("web", "s1"));
        assertEquals(Optional.empty(), snapshots.find("web", "s2"));
        assertEquals(Optional.empty(), snapshots.find("db", "s1"));
        assertTrue(snapshots.delete("web", "s1"));
        assertFalse(snapshots.delete("web", "s1"));
        assertEquals(List.of(), snapshots.list("web"));
    }

    @Test
    void listIsOldestFirstAndPerVm() throws Exception {
        // fraction digits of different lengths: text order must still be time order
        SnapshotInfo late = snap("web", "a-late", "2026-11-28T10:00:00.5Z");
        SnapshotInfo early = snap("web", "z-early", "2026-11-28T10:00:00Z");
        SnapshotInfo middle = snap("web", "m", "2026-11-28T10:00:00.123456789Z");
        snapshots.add(late);
        snapshots.add(early);
        snapshots.add(middle);
        snapshots.add(snap("db", "other", "2026-11-28T09:00:00Z"));
        assertEquals(List.of(early, middle, late), snapshots.list("web"));
        assertEquals(1, snapshots.list("db").size());
    }

    @Test
    void duplicateNameOnOneVmIsRefusedButOtherVmsMayUseIt() throws Exception {
        snapshots.add(snap("web", "s1", "2026-11-28T10:00:00Z"));
        NameTakenException e = assertThrows(NameTakenException.class,
                () -> snapshots.add(snap("web", "s1", "2026-11-28T11:00:00Z")));
        assertTrue(e.getMessage().contains("'web'") && e.getMessage().contains("'s1'"), e.getMessage());
        snapshots.add(snap("db", "s1", "2026-11-28T10:00:00Z"));
        assertEquals(Instant.parse("2026-11-28T10:00:00Z"), snapshots.find("web", "s1").orElseThrow().created());
    }

    @Test
    void deletingTheVmKeepsItsSnapshots() throws Exception {
        VmStore vms = new VmStore(db);
        vms.define(StoreFixtures.simple("web"));
        SnapshotInfo s1 = snapshots.add(snap("web", "s1", "2026-11-28T10:00:00Z"));
        vms.define(StoreFixtures.full("clone")); // stands on base/s1 (its definition's snapshot)
        assertTrue(vms.delete("web"));
        assertEquals(List.of(s1), snapshots.list("web"));
    }
}
