package dev.visor.daemon.store;

import dev.visor.daemon.model.DiskRef;
import dev.visor.daemon.model.VmDefinition;
import dev.visor.daemon.model.VmRecord;
import dev.visor.daemon.model.VmState;
import java.io.PrintStream;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.UnaryOperator;

/**
 * The defined VMs: each one's definition and what the daemon knows of its VMM process.
 *
 * <p>The store keeps facts and checks only what keeps them coherent (a process has a pid, a VM
 * without a process has none); whether an operation is allowed in a state (delete while running,
 * say) is the caller's decision. Updates of a VM that is not there throw {@link NotFoundException}.
 *
 * <p>A row that cannot be read back (its JSON damaged by hand, or an unknown state) does not hide
 * the others: {@link #list()} skips it and says so on stderr once per row, so one bad VM cannot
 * keep the daemon from starting the rest. {@link #find} and the updates of such a VM throw a
 * StoreException naming it instead, so it is not mistaken for a missing VM (and its name is not
 * offered again).
 */
public final class VmStore {
    private static final String COLUMNS =
            "id, name, definition, label, state, pid, pid_start, exit_code, last_error, restarts, created, started_at";

    private final Database db;
    private final PrintStream warnings;
    private final Set<Long> reported = ConcurrentHashMap.newKeySet();

    public VmStore(Database db) {
        this(db, System.err);
    }

    /** {@code warnings} gets the one-line reports of unreadable rows (tests capture them). */
    VmStore(Database db, PrintStream warnings) {
        this.db = Objects.requireNonNull(db);
        this.warnings = Objects.requireNonNull(warnings);
    }

    /**
     * Stores a new VM: a fresh id (never one a deleted VM had), label "visor-vm-ID", state STOPPED,
     * created now. Throws NameTakenException when a VM has that name.
     */
    public VmRecord define(VmDefinition d) throws StoreException {
        String json = DefinitionJson.write(d);
        Instant now = Instant.now();
        return db.transaction(c -> {
            try (PreparedStatement q = c.prepareStatement("SELECT 1 FROM vms WHERE name = ?")) {
                q.setString(1, d.name());
                try (ResultSet rs = q.executeQuery()) {
                    if (rs.next()) throw new NameTakenException("a VM named '" + d.name() + "' already exists");
                }
            }
            try (PreparedStatement ins = c.prepareStatement(
                    "INSERT INTO vms (name, definition, label, state, created) VALUES (?, ?, '', ?, ?)")) {
                ins.setString(1, d.name());
                ins.setString(2, json);
                ins.setString(3, VmState.STOPPED.name());
                ins.setString(4, Times.format(now));
                ins.executeUpdate();
            }
            long id;
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT last_insert_rowid()")) {
                rs.next();
                id = rs.getLong(1);
            }
            // the label comes from the id, known only after the insert; same transaction, so no
            // one ever sees the empty label
            String label = "visor-vm-" + id;
            try (PreparedStatement upd = c.prepareStatement("UPDATE vms SET label = ? WHERE id = ?")) {
                upd.setString(1, label);
                upd.setLong(2, id);
                upd.executeUpdate();
            }
            return new VmRecord(id, d, label, VmState.STOPPED, 0, null, null, null, 0, now, null);
        });
    }

    /**
     * The VM named {@code name}, or empty when there is none. Throws StoreException when its row
     * exists but cannot be read.
     */
    public Optional<VmRecord> find(String name) throws StoreException {
        return db.read(c -> load(c, name));
    }

    /** All readable VMs, by name; unreadable rows are skipped (and reported once on stderr). */
    public List<VmRecord> list() throws StoreException {
        return db.read(c -> {
            List<VmRecord> out = new ArrayList<>();
            try (Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT " + COLUMNS + " FROM vms ORDER BY name")) {
                while (rs.next()) {
                    try {
                        out.add(decode(rs));
                    } catch (IllegalArgumentException e) {
                        long id = rs.getLong("id");
                        if (reported.add(id)) {
                            warnings.println("visord: skipping VM '" + rs.getString("name") + "' (id " + id
                                    + "): its row cannot be read: " + e.getMessage() + "; fix or delete it in " + db.file());
                        }
                    }
                }
            }
            return out;
        });
    }

    /**
     * Replaces the VM's definition, keeping everything else. Renaming is not supported (the name
     * is in paths, events and snapshots): {@code d.name()} must be {@code name}, else
     * IllegalArgumentException.
     */
    public VmRecord updateDefinition(String name, VmDefinition d) throws StoreException {
        if (!Objects.equals(name, d.name())) {
            throw new IllegalArgumentException("a VM cannot be renamed ('" + name + "' to '" + d.name() + "')");
        }
        DefinitionJson.write(d); // refuse a definition that cannot be stored before touching the row
        return update(name, r -> new VmRecord(r.id(), d, r.label(), r.state(), r.pid(), r.pidStart(), r.exitCode(),
                r.lastError(), r.restarts(), r.created(), r.startedAt()));
    }

    /**
     * Records a VMM process for the VM: {@code state} must be an active one and {@code pid} > 0.
     * Exit code and last error are left as they are (they describe the previous run until this one
     * ends; clear the error with {@link #setLastError} when a start succeeds, if wanted).
     */
    public VmRecord setProcess(String name, VmState state, long pid, Instant pidStart, Instant startedAt)
            throws StoreException {
        Objects.requireNonNull(state, "state");
        if (!state.active()) throw new IllegalArgumentException("a VM with a process cannot be " + state.apiName());
        if (pid <= 0) throw new IllegalArgumentException("not a process id: " + pid);
        return update(name, r -> new VmRecord(r.id(), r.definition(), r.label(), state, pid, pidStart, r.exitCode(),
                r.lastError(), r.restarts(), r.created(), startedAt));
    }

    /**
     * Changes only the state (e.g. RUNNING to PAUSED). To record that the process is gone use
     * {@link #setExited}, which also clears the pid.
     */
    public VmRecord setState(String name, VmState state) throws StoreException {
        Objects.requireNonNull(state, "state");
        return update(name, r -> new VmRecord(r.id(), r.definition(), r.label(), state, r.pid(), r.pidStart(),
                r.exitCode(), r.lastError(), r.restarts(), r.created(), r.startedAt()));
    }

    /**
     * Records that the VMM process ended: {@code state} (STOPPED or CRASHED, not an active one), how
     * it ended (null: unknown) and why, if it failed. Clears pid and pidStart; keeps startedAt (when
     * the last run began).
     */
    public VmRecord setExited(String name, VmState state, Integer exitCode, String lastError) throws StoreException {
        Objects.requireNonNull(state, "state");
        if (state.active()) throw new IllegalArgumentException("a VM without a process cannot be " + state.apiName());
        return update(name, r -> new VmRecord(r.id(), r.definition(), r.label(), state, 0, null, exitCode, lastError,
                r.restarts(), r.created(), r.startedAt()));
    }

    /** Sets the count of restarts made by the restart policy (0 after a start through the API). */
    public VmRecord setRestarts(String name, int n) throws StoreException {
        if (n < 0) throw new IllegalArgumentException("restarts cannot be negative: " + n);
        return update(name, r -> new VmRecord(r.id(), r.definition(), r.label(), r.state(), r.pid(), r.pidStart(),
                r.exitCode(), r.lastError(), n, r.created(), r.startedAt()));
    }

    /** Sets (or with null, clears) why the last start or run failed. */
    public VmRecord setLastError(String name, String err) throws StoreException {
        return update(name, r -> new VmRecord(r.id(), r.definition(), r.label(), r.state(), r.pid(), r.pidStart(),
                r.exitCode(), err, r.restarts(), r.created(), r.startedAt()));
    }

    /**
     * Removes the VM's row; false when there was none. Its snapshots' rows stay (see
     * {@link SnapshotStore}), and its id is never handed out again.
     */
    public boolean delete(String name) throws StoreException {
        return db.transaction(c -> {
            try (PreparedStatement del = c.prepareStatement("DELETE FROM vms WHERE name = ?")) {
                del.setString(1, name);
                return del.executeUpdate() > 0;
            }
        });
    }

    /**
     * The first VM (by name) whose definition has a disk on {@code image}, or empty; so an image in
     * use is not deleted. Unreadable rows are not seen (as in {@link #list()}).
     */
    public Optional<String> vmUsingImage(String image) throws StoreException {
        for (VmRecord r : list()) {
            for (DiskRef d : r.definition().disks()) {
                if (d.image().equals(image)) return Optional.of(r.name());
            }
        }
        return Optional.empty();
    }

    /**
     * The first VM (by name) that is a clone of snapshot {@code vm}/{@code snapshot} (its
     * definition's {@code snapshot} is "VM/SNAP"), or empty; so a snapshot a clone stands on is not
     * deleted.
     */
    public Optional<String> vmUsingSnapshot(String vm, String snapshot) throws StoreException {
        String ref = vm + "/" + snapshot;
        for (VmRecord r : list()) {
            if (ref.equals(r.definition().snapshot())) return Optional.of(r.name());
        }
        return Optional.empty();
    }

    /** Reads the row, applies {@code change}, writes the result back: one transaction. */
    private VmRecord update(String name, UnaryOperator<VmRecord> change) throws StoreException {
        return db.transaction(c -> {
            VmRecord old = load(c, name).orElseThrow(() -> new NotFoundException("no VM named '" + name + "'"));
            VmRecord r = change.apply(old);
            try (PreparedStatement upd = c.prepareStatement("UPDATE vms SET definition = ?, label = ?, state = ?, pid = ?,"
                    + " pid_start = ?, exit_code = ?, last_error = ?, restarts = ?, started_at = ? WHERE id = ?")) {
                upd.setString(1, DefinitionJson.write(r.definition()));
                upd.setString(2, r.label());
                upd.setString(3, r.state().name());
                upd.setLong(4, r.pid());
                upd.setString(5, Times.format(r.pidStart()));
                if (r.exitCode() == null) upd.setNull(6, Types.INTEGER);
                else upd.setInt(6, r.exitCode());
                upd.setString(7, r.lastError());
                upd.setInt(8, r.restarts());
                upd.setString(9, Times.format(r.startedAt()));
                upd.setLong(10, r.id());
                upd.executeUpdate();
            }
            return r;
        });
    }

    private Optional<VmRecord> load(Connection c, String name) throws SQLException, StoreException {
        try (PreparedStatement q = c.prepareStatement("SELECT " + COLUMNS + " FROM vms WHERE name = ?")) {
            q.setString(1, name);
            try (ResultSet rs = q.executeQuery()) {
                if (!rs.next()) return Optional.empty();
                try {
                    return Optional.of(decode(rs));
                } catch (IllegalArgumentException e) {
                    throw new StoreException("VM '" + name + "' is stored but cannot be read: " + e.getMessage()
                            + "; fix or delete its row in " + db.file());
                }
            }
        }
    }

    /** One row as a record; IllegalArgumentException saying what is wrong with it. */
    private static VmRecord decode(ResultSet rs) throws SQLException {
        String name = rs.getString("name");
        VmDefinition stored = DefinitionJson.read(rs.getString("definition"));
        // the name column is the one that is unique and looked up by: it wins over the JSON's copy
        VmDefinition d = name.equals(stored.name()) ? stored
                : new VmDefinition(name, stored.cpus(), stored.memoryBytes(), stored.disks(), stored.nets(),
                        stored.rng(), stored.balloon(), stored.append(), stored.autostart(), stored.restart(),
                        stored.snapshot());
        VmState state;
        try {
            state = VmState.valueOf(rs.getString("state"));
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new IllegalArgumentException("unknown state '" + rs.getString("state") + "'");
        }
        int exit = rs.getInt("exit_code");
        Integer exitCode = rs.wasNull() ? null : exit;
        return new VmRecord(rs.getLong("id"), d, rs.getString("label"), state, rs.getLong("pid"),
                Times.parse(rs.getString("pid_start")), exitCode, rs.getString("last_error"), rs.getInt("restarts"),
                Times.parse(rs.getString("created")), Times.parse(rs.getString("started_at")));
    }
}
