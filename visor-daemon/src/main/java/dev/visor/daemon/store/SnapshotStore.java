package dev.visor.daemon.store;

import dev.visor.daemon.model.SnapshotInfo;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The VMs' snapshots: which exist, where their files are, how much RAM they hold.
 *
 * <p>Rows are keyed by the VM's <em>name</em> and the snapshot's name, like the snapshot
 * directories (snapshots/VM/SNAP), and deliberately carry no foreign key to the VM: deleting a VM
 * from {@link VmStore} does not delete its snapshots' rows, because clones (VMs whose definition
 * names "VM/SNAP") may stand on those snapshots' files, and the files outlive the VM. Removing
 * them is the caller's decision (see {@link VmStore#vmUsingSnapshot}). A consequence to keep in
 * mind: a VM later defined under the same name sees the rows left by its namesake.
 */
public final class SnapshotStore {
    private final Database db;

    public SnapshotStore(Database db) {
        this.db = Objects.requireNonNull(db);
    }

    /** Stores {@code s}; NameTakenException when that VM already has a snapshot of that name. */
    public SnapshotInfo add(SnapshotInfo s) throws StoreException {
        Objects.requireNonNull(s.vm(), "vm");
        Objects.requireNonNull(s.name(), "name");
        Objects.requireNonNull(s.path(), "path");
        Objects.requireNonNull(s.created(), "created");
        return db.transaction(c -> {
            if (load(c, s.vm(), s.name()).isPresent()) {
                throw new NameTakenException("VM '" + s.vm() + "' already has a snapshot named '" + s.name() + "'");
            }
            try (PreparedStatement ins = c.prepareStatement(
                    "INSERT INTO snapshots (vm, name, path, ram_bytes, created) VALUES (?, ?, ?, ?, ?)")) {
                ins.setString(1, s.vm());
                ins.setString(2, s.name());
                ins.setString(3, s.path());
                ins.setLong(4, s.ramBytes());
                ins.setString(5, Times.format(s.created()));
                ins.executeUpdate();
            }
            return s;
        });
    }

    /** The VM's snapshots, oldest first (then by name). */
    public List<SnapshotInfo> list(String vm) throws StoreException {
        return db.read(c -> {
            List<SnapshotInfo> out = new ArrayList<>();
            try (PreparedStatement q = c.prepareStatement(
                    "SELECT vm, name, path, ram_bytes, created FROM snapshots WHERE vm = ? ORDER BY created, name")) {
                q.setString(1, vm);
                try (ResultSet rs = q.executeQuery()) {
                    while (rs.next()) out.add(decode(rs));
                }
            }
            return out;
        });
    }

    /** The snapshot, or empty. */
    public Optional<SnapshotInfo> find(String vm, String name) throws StoreException {
        return db.read(c -> load(c, vm, name));
    }

    /** Removes the row (not the files); false when there was none. */
    public boolean delete(String vm, String name) throws StoreException {
        return db.transaction(c -> {
            try (PreparedStatement del = c.prepareStatement("DELETE FROM snapshots WHERE vm = ? AND name = ?")) {
                del.setString(1, vm);
                del.setString(2, name);
                return del.executeUpdate() > 0;
            }
        });
    }

    private static Optional<SnapshotInfo> load(java.sql.Connection c, String vm, String name)
            throws SQLException, StoreException {
        try (PreparedStatement q = c.prepareStatement(
                "SELECT vm, name, path, ram_bytes, created FROM snapshots WHERE vm = ? AND name = ?")) {
            q.setString(1, vm);
            q.setString(2, name);
            try (ResultSet rs = q.executeQuery()) {
                return rs.next() ? Optional.of(decode(rs)) : Optional.empty();
            }
        }
    }

    private static SnapshotInfo decode(ResultSet rs) throws SQLException, StoreException {
        try {
            return new SnapshotInfo(rs.getString("vm"), rs.getString("name"), rs.getString("path"),
                    rs.getLong("ram_bytes"), Times.parse(rs.getString("created")));
        } catch (IllegalArgumentException e) {
            throw new StoreException("snapshot '" + rs.getString("vm") + "/" + rs.getString("name")
                    + "' is stored but cannot be read (" + e.getMessage() + ")");
        }
    }
}
