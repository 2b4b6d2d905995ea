package dev.visor.daemon.store;

import dev.visor.daemon.model.AuditEntry;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * The API's audit log: one row per changing call (who, what, the answer's status), kept in the
 * database so it survives restarts and can be read through GET /api/v1/audit.
 *
 * <p>It is capped at {@link #MAX_ROWS} rows so a busy or scripted client cannot grow the database
 * without bound. Pruning is cheap: ids rise by one per row (AUTOINCREMENT, and only pruning
 * deletes), so after inserting row N everything with id &lt;= N - MAX_ROWS goes, a range delete on
 * the primary key that normally removes one row.
 */
public final class AuditLog {
    /** The most rows kept; older ones are deleted as new ones come. */
    public static final int MAX_ROWS = 100_000;

    /** A {@code token=} query parameter (how WebSocket clients authenticate): its value is a secret. */
    private static final Pattern TOKEN_PARAM = Pattern.compile("([?&]token=)[^&#]*", Pattern.CASE_INSENSITIVE);

    private final Database db;
    private final int maxRows;

    public AuditLog(Database db) {
        this(db, MAX_ROWS);
    }

    /** With another cap (tests use a small one). */
    AuditLog(Database db, int maxRows) {
        if (maxRows < 1) throw new IllegalArgumentException("the audit log must keep at least one row");
        this.db = Objects.requireNonNull(db);
        this.maxRows = maxRows;
    }

    /**
     * Records a call, timed now. {@code who} is the token's name (null is stored as "-", as for an
     * unauthenticated call); {@code remote} the client's address (may be null). A {@code token=}
     * value in the path's query is stored as "***", so no secret reaches the log.
     */
    public void record(String who, String method, String path, int status, String remote) throws StoreException {
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(path, "path");
        String safePath = TOKEN_PARAM.matcher(path).replaceAll("$1***");
        String time = Times.format(Instant.now());
        db.transaction(c -> {
            try (PreparedStatement ins = c.prepareStatement(
                    "INSERT INTO audit (time, who, method, path, status, remote) VALUES (?, ?, ?, ?, ?, ?)")) {
                ins.setString(1, time);
                ins.setString(2, who == null ? "-" : who);
                ins.setString(3, method);
                ins.setString(4, safePath);
                ins.setInt(5, status);
                ins.setString(6, remote);
                ins.executeUpdate();
            }
            try (PreparedStatement prune = c.prepareStatement("DELETE FROM audit WHERE id <= last_insert_rowid() - ?")) {
                prune.setInt(1, maxRows);
                prune.executeUpdate();
            }
            return null;
        });
    }

    /** The newest {@code limit} entries (limit >= 1), newest first. */
    public List<AuditEntry> recent(int limit) throws StoreException {
        if (limit < 1) throw new IllegalArgumentException("limit must be at least 1 (got " + limit + ")");
        return db.read(c -> {
            List<AuditEntry> out = new ArrayList<>();
            try (PreparedStatement q = c.prepareStatement(
                    "SELECT id, time, who, method, path, status, remote FROM audit ORDER BY id DESC LIMIT ?")) {
                q.setInt(1, limit);
                try (ResultSet rs = q.executeQuery()) {
                    while (rs.next()) {
                        Instant time;
                        try {
                            time = Times.parse(rs.getString("time"));
                        } catch (IllegalArgumentException e) {
                            time = Instant.EPOCH; // one damaged time should not hide the log
                        }
                        out.add(new AuditEntry(rs.getLong("id"), time, rs.getString("who"), rs.getString("method"),
                                rs.getString("path"), rs.getInt("status"), rs.getString("remote")));
                    }
                }
            }
            return out;
        });
    }
}
