package dev.visor.daemon.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.visor.daemon.model.AuditEntry;
import java.nio.file.Path;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuditLogTest {
    @TempDir
    Path dir;
    Database db;

    @BeforeEach
    void open() throws StoreException {
        db = Database.open(dir.resolve("visor.db"));
    }

    @AfterEach
    void close() {
        db.close();
    }

    @Test
    void recentIsNewestFirstAndLimited() throws Exception {
        AuditLog log = new AuditLog(db);
        Instant before = Instant.now();
        for (int i = 1; i <= 5; i++) log.record("admin", "POST", "/api/v1/vms/v" + i + "/start", 200, "127.0.0.1");
        List<AuditEntry> three = log.recent(3);
        assertEquals(List.of("/api/v1/vms/v5/start", "/api/v1/vms/v4/start", "/api/v1/vms/v3/start"),
                three.stream().map(AuditEntry::path).toList());
        assertTrue(three.get(0).id() > three.get(1).id() && three.get(1).id() > three.get(2).id());
        assertEquals(5, log.recent(100).size());
        assertEquals(1, log.recent(1).size());

        AuditEntry e = three.get(0);
        assertEquals("admin", e.who());
        assertEquals("POST", e.method());
        assertEquals(200, e.status());
        assertEquals("127.0.0.1", e.remote());
        assertFalse(e.time().isBefore(before));
        assertFalse(e.time().isAfter(Instant.now()));
        assertThrows(IllegalArgumentException.class, () -> log.recent(0));
    }

    @Test
    void unauthenticatedCallsAreRecordedAsDash() throws Exception {
        AuditLog log = new AuditLog(db);
        log.record(null, "DELETE", "/api/v1/tokens/x", 401, null);
        AuditEntry e = log.recent(1).get(0);
        assertEquals("-", e.who());
        assertEquals(401, e.status());
        assertEquals(null, e.remote());
    }

    @Test
    void keepsAtMostMaxRowsDroppingTheOldest() throws Exception {
        AuditLog log = new AuditLog(db, 10);
        for (int i = 1; i <= 25; i++) log.record("a", "POST", "/p" + i, 200, "r");
        assertEquals(10, (int) db.read(c -> {
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM audit")) {
                rs.next();
                return rs.getInt(1);
            }
        }));
        assertEquals(IntStream.iterate(25, i -> i - 1).limit(10).mapToObj(i -> "/p" + i).toList(),
                log.recent(100).stream().map(AuditEntry::path).toList());
        assertEquals(100_000, AuditLog.MAX_ROWS);
    }

    @Test
    void tokenInAQueryIsNotLogged() throws Exception {
        AuditLog log = new AuditLog(db);
        log.record("ci", "GET", "/api/v1/vms/web/console?token=visor_SECRET&x=1", 101, "r");
        log.record("ci", "GET", "/api/v1/vms/web/console?a=b&TOKEN=visor_SECRET", 101, "r");
        List<String> paths = log.recent(2).stream().map(AuditEntry::path).toList();
        assertEquals(List.of("/api/v1/vms/web/console?a=b&TOKEN=***", "/api/v1/vms/web/console?token=***&x=1"), paths);
    }
}
