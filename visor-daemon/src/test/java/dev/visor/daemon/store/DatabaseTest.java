package dev.visor.daemon.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatabaseTest {
    @TempDir
    Path dir;

    @Test
    void newFileIsOwnerOnlyWithWalAndCurrentSchema() throws Exception {
        Path file = dir.resolve("visor.db");
        try (Database db = Database.open(file)) {
            assertEquals(file.toAbsolutePath(), db.file());
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
            assertEquals(Schema.latest(), db.schemaVersion());
            assertEquals(1, (int) db.read(c -> Database.pragmaInt(c, "foreign_keys")));
            assertEquals(5000, (int) db.read(c -> Database.pragmaInt(c, "busy_timeout")));
        }
        try (Connection c = StoreFixtures.plainJdbc(file); Statement s = c.createStatement()) {
            try (ResultSet rs = s.executeQuery("PRAGMA journal_mode")) {
                rs.next();
                assertEquals("wal", rs.getString(1));
            }
            assertEquals(Schema.APPLICATION_ID, Database.pragmaInt(c, "application_id"));
            List<String> tables = new ArrayList<>();
            try (ResultSet rs = s.executeQuery(
                    "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")) {
                while (rs.next()) tables.add(rs.getString(1));
            }
            assertEquals(List.of("audit", "snapshots", "tokens", "vms"), tables);
        }
    }

    @Test
    void reopeningKeepsVersionAndDoesNotRerunMigrations() throws Exception {
        Path file = dir.resolve("visor.db");
        Database.open(file).close();
        // a second run of migration 1 would fail on CREATE TABLE vms
        try (Database db = Database.open(file)) {
            assertEquals(Schema.latest(), db.schemaVersion());
        }
    }

    @Test
    void emptyFileBecomesANewDatabase() throws Exception {
        Path file = Files.createFile(dir.resolve("visor.db"));
        try (Database db = Database.open(file)) {
            assertEquals(Schema.latest(), db.schemaVersion());
            new VmStore(db).define(StoreFixtures.simple("a"));
        }
        try (Database db = Database.open(file)) {
            assertEquals(1, new VmStore(db).list().size());
        }
    }

    @Test
    void garbageFileIsRefusedWithOneLineAndLeftAlone() throws Exception {
        Path file = dir.resolve("visor.db");
        byte[] garbage = new byte[8192];
        new Random(42).nextBytes(garbage);
        Files.write(file, garbage);
        StoreException e = assertThrows(StoreException.class, () -> Database.open(file));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("is not a Visor database"), e.getMessage());
        assertTrue(e.getMessage().contains("move it aside"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertArrayEquals(garbage, Files.readAllBytes(file), "the file must not be touched");
    }

    @Test
    void damagedDatabaseIsRefusedAsCorrupt() throws Exception {
        Path file = dir.resolve("visor.db");
        try (Database db = Database.open(file)) {
            VmStore vms = new VmStore(db);
            for (int i = 0; i < 50; i++) vms.define(StoreFixtures.full("vm" + i));
        }
        // overwrite every page after the first (the header) with noise: the tables' b-trees
        byte[] bytes = Files.readAllBytes(file);
        Random r = new Random(7);
        for (int i = 4096; i < bytes.length; i++) bytes[i] = (byte) r.nextInt();
        Files.write(file, bytes);
        StoreException e = assertThrows(StoreException.class, () -> Database.open(file));
        assertTrue(e.getMessage().contains("is corrupt") || e.getMessage().contains("is not a Visor database"),
                e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }

    @Test
    void otherSqliteDatabaseIsRefused() throws Exception {
        Path file = dir.resolve("other.db");
        try (Connection c = StoreFixtures.plainJdbc(file); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT)");
        }
        StoreException e = assertThrows(StoreException.class, () -> Database.open(file));
        assertTrue(e.getMessage().contains("not a Visor one"), e.getMessage());
    }

    @Test
    void newerSchemaIsRefused() throws Exception {
        Path file = dir.resolve("visor.db");
        Database.open(file).close();
        try (Connection c = StoreFixtures.plainJdbc(file); Statement s = c.createStatement()) {
            s.execute("PRAGMA user_version = " + (Schema.latest() + 1));
        }
        StoreException e = assertThrows(StoreException.class, () -> Database.open(file));
        assertTrue(e.getMessage().contains("newer than this visord knows"), e.getMessage());
    }

    @Test
    void missingDirectoryAndDirectoryPathGiveClearErrors() {
        StoreException missing = assertThrows(StoreException.class, () -> Database.open(dir.resolve("no/such/visor.db")));
        assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
        StoreException isDir = assertThrows(StoreException.class, () -> Database.open(dir));
        assertTrue(isDir.getMessage().contains("is a directory"), isDir.getMessage());
    }

    @Test
    void failedTransactionIsRolledBack() throws Exception {
        try (Database db = Database.open(dir.resolve("visor.db"))) {
            assertThrows(StoreException.class, () -> db.transaction(c -> {
                try (Statement s = c.createStatement()) {
                    s.execute("INSERT INTO tokens (name, role, hash, created) VALUES ('x', 'admin', 'h', 't')");
                }
                throw new StoreException("stop");
            }));
            assertTrue(new TokenStore(db).isEmpty());
            // and the connection is usable again, in autocommit mode
            new TokenStore(db).create("y", dev.visor.daemon.model.Role.VIEWER);
            assertFalse(new TokenStore(db).isEmpty());
        }
    }

    @Test
    void closedDatabaseRefusesWorkAndClosesTwice() throws Exception {
        Database db = Database.open(dir.resolve("visor.db"));
        db.close();
        db.close();
        StoreException e = assertThrows(StoreException.class, () -> new VmStore(db).list());
        assertTrue(e.getMessage().contains("is closed"), e.getMessage());
    }
}
