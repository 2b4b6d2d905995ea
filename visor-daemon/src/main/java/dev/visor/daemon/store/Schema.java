package dev.visor.daemon.store;

import java.util.List;

/**
 * The database's tables, as an ordered list of migrations. The database records the last one it
 * has in {@code PRAGMA user_version}; {@link Database#open} applies the newer ones in order, each
 * in its own transaction together with the version bump, so a crash mid-upgrade leaves the
 * previous version intact. To change the schema, append a migration (never edit a released one:
 * databases out there already ran it).
 *
 * <p>What every column means is written once, here.
 */
final class Schema {
    /**
     * Written to {@code PRAGMA application_id} ("VISR") by the first migration, so a Visor
     * database is told apart from any other SQLite file that happens to sit at the same path.
     */
    static final int APPLICATION_ID = 0x56495352;

    /** One step from {@code version - 1} to {@code version}. */
    record Migration(int version, String purpose, List<String> statements) {}

    static final List<Migration> MIGRATIONS = List.of(
            new Migration(1, "first schema", List.of(
                    "PRAGMA application_id = " + APPLICATION_ID,
                    // AUTOINCREMENT so an id is never reused after a delete: the id names the VM's
                    // run directory and its security label, which must not pass to a later VM.
                    // definition: VmDefinition as JSON (DefinitionJson), so fields can be added
                    // without a migration; name is copied out of it for uniqueness and lookups.
                    // state: VmState.name(); times: Times format; pid 0 = no process.
                    """
                    CREATE TABLE vms (
                        id          INTEGER PRIMARY KEY AUTOINCREMENT,
                        name        TEXT    NOT NULL UNIQUE,
                        definition  TEXT    NOT NULL,
                        label       TEXT    NOT NULL,
                        state       TEXT    NOT NULL,
                        pid         INTEGER NOT NULL DEFAULT 0,
                        pid_start   TEXT,
                        exit_code   INTEGER,
                        last_error  TEXT,
                        restarts    INTEGER NOT NULL DEFAULT 0,
                        created     TEXT    NOT NULL,
                        started_at  TEXT
                    )""",
                    // hash: lower-case hex SHA-256 of the whole secret ("visor_..."); the secret
                    // itself is never stored. role: Role.apiName().
                    """
                    CREATE TABLE tokens (
                        name     TEXT PRIMARY KEY,
                        role     TEXT NOT NULL,
                        hash     TEXT NOT NULL UNIQUE,
                        created  TEXT NOT NULL
                    )""",
                    // AUTOINCREMENT keeps ids rising, which AuditLog's cheap pruning relies on.
                    """
                    CREATE TABLE audit (
                        id      INTEGER PRIMARY KEY AUTOINCREMENT,
                        time    TEXT    NOT NULL,
                        who     TEXT    NOT NULL,
                        method  TEXT    NOT NULL,
                        path    TEXT    NOT NULL,
                        status  INTEGER NOT NULL,
                        remote  TEXT
                    )""",
                    // vm: the VM's name, deliberately not a foreign key to vms (see SnapshotStore).
                    """
                    CREATE TABLE snapshots (
                        vm         TEXT    NOT NULL,
                        name       TEXT    NOT NULL,
                        path       TEXT    NOT NULL,
                        ram_bytes  INTEGER NOT NULL,
                        created    TEXT    NOT NULL,
                        PRIMARY KEY (vm, name)
                    )""")));

    static {
        for (int i = 0; i < MIGRATIONS.size(); i++) {
            if (MIGRATIONS.get(i).version() != i + 1) {
                throw new ExceptionInInitializerError("migration " + (i + 1) + " is numbered " + MIGRATIONS.get(i).version());
            }
        }
    }

    private Schema() {}

    /** The schema version this code writes. */
    static int latest() {
        return MIGRATIONS.size();
    }
}
