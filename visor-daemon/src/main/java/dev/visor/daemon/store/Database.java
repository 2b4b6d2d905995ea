package dev.visor.daemon.store;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteException;

/**
 * The daemon's SQLite database (VMs, tokens, snapshots, audit log), one file in its state directory.
 *
 * <p>One JDBC connection serves all threads, taken in turn under a lock: every call is a few short
 * statements on a small database, so a pool would add nothing but the chance of two connections
 * of the same process waiting on each other. Settings, and why:
 * <ul>
 *   <li>WAL journal: readers in other processes (sqlite3 for a look, backups) do not block the
 *       daemon, and a commit is one append;
 *   <li>synchronous FULL: a VM defined or a token created just before a power cut is still there
 *       afterwards (writes are rare, so the fsync per commit costs nothing that matters);
 *   <li>foreign keys on: SQLite leaves them off by default, and later tables may rely on them;
 *   <li>busy_timeout: another process holding the write lock briefly (a backup) makes us wait
 *       instead of failing at once;
 *   <li>transactions begin IMMEDIATE: they take the write lock at the start, so a
 *       read-then-write transaction cannot fail half way with SQLITE_BUSY.
 * </ul>
 * The file is created 0600 (it holds token hashes and the audit log); SQLite gives its -wal and
 * -shm files the same mode.
 */
public final class Database implements AutoCloseable {
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");
    private static final int BUSY_TIMEOUT_MS = 5000;
    /** sqlite-jdbc's message form: "[SQLITE_CODE] generic text (SQLite's specific text)". */
    private static final Pattern SQLITE_JDBC_MESSAGE = Pattern.compile("\\[SQLITE_\\w+][^(]*\\((.+)\\)");

    /** Work on the connection; runs under the database's lock. */
    @FunctionalInterface
    interface Work<T> {
        T run(Connection c) throws SQLException, StoreException;
    }

    private final Path file;
    private final Connection conn;
    private final ReentrantLock lock = new ReentrantLock();
    private boolean closed;

    private Database(Path file, Connection conn) {
        this.file = file;
        this.conn = conn;
    }

    /**
     * Opens the database at {@code file}, creating it (0600) when missing (an empty file becomes a
     * new database too), and brings its schema up to date. Fails with a one-line StoreException when the file is not a Visor
     * database, is corrupt, was written by a newer Visor, or cannot be created.
     */
    public static Database open(Path file) throws StoreException {
        Path f = file.toAbsolutePath().normalize();
        createIfMissing(f);
        Connection c;
        try {
            c = config().createConnection("jdbc:sqlite:" + f);
        } catch (SQLException e) {
            // garbage fails here already: setting the journal mode reads the header
            throw failure(f, e);
        }
        try {
            checkIdentity(f, c);
            migrate(f, c);
            return new Database(f, c);
        } catch (SQLException e) {
            closeQuietly(c);
            throw failure(f, e);
        } catch (StoreException | RuntimeException e) {
            closeQuietly(c);
            throw e;
        }
    }

    /** The database file (absolute). */
    public Path file() {
        return file;
    }

    /** The schema version the file is at (after open, always the newest this code knows). */
    public int schemaVersion() throws StoreException {
        return read(c -> pragmaInt(c, "user_version"));
    }

    /** Runs {@code work} alone on the connection, in autocommit mode (each statement on its own). */
    <T> T read(Work<T> work) throws StoreException {
        lock.lock();
        try {
            checkOpen();
            return work.run(conn);
        } catch (SQLException e) {
            throw failure(file, e);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Runs {@code work} in one transaction: committed when it returns, rolled back when it throws.
     * Called from inside another transaction (same thread), it becomes part of that one.
     */
    <T> T transaction(Work<T> work) throws StoreException {
        lock.lock();
        try {
            checkOpen();
            if (!conn.getAutoCommit()) return work.run(conn);
            conn.setAutoCommit(false);
            boolean committed = false;
            try {
                T result = work.run(conn);
                conn.commit();
                committed = true;
                return result;
            } finally {
                if (!committed) rollbackQuietly(conn);
                conn.setAutoCommit(true);
            }
        } catch (SQLException e) {
            throw failure(file, e);
        } finally {
            lock.unlock();
        }
    }

    /** Closes the connection (SQLite then checkpoints the WAL into the file). Idempotent. */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) return;
            closed = true;
            conn.close();
        } catch (SQLException e) {
            // nothing the caller could do at shutdown; the WAL is replayed at the next open
            System.err.println("visord: closing database " + file + ": " + oneLine(e.getMessage()));
        } finally {
            lock.unlock();
        }
    }

    private void checkOpen() throws StoreException {
        if (closed) throw new StoreException("database " + file + " is closed");
    }

    private static SQLiteConfig config() {
        SQLiteConfig cfg = new SQLiteConfig();
        cfg.setJournalMode(SQLiteConfig.JournalMode.WAL);
        cfg.setSynchronous(SQLiteConfig.SynchronousMode.FULL);
        cfg.enforceForeignKeys(true);
        cfg.setBusyTimeout(BUSY_TIMEOUT_MS);
        cfg.setTransactionMode(SQLiteConfig.TransactionMode.IMMEDIATE);
        return cfg;
    }

    /**
     * Creates the file ourselves so it is 0600 from the start (SQLite would create it 0644 minus
     * the umask). An existing file keeps its mode: the administrator may have chosen it.
     */
    private static void createIfMissing(Path f) throws StoreException {
        if (Files.isDirectory(f)) throw new StoreException("database " + f + " is a directory, not a file");
        // sqlite-jdbc would read what follows a '?' in its URL as connection options
        if (f.toString().contains("?")) throw new StoreException("database path " + f + " must not contain '?'");
        Path dir = f.getParent();
        if (dir != null && !Files.isDirectory(dir)) {
            throw new StoreException("cannot create database " + f + ": directory " + dir + " does not exist");
        }
        try {
            try {
                Files.createFile(f, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
                // a umask such as 0277 could have taken our own write bit
                Files.setPosixFilePermissions(f, OWNER_ONLY);
            } catch (UnsupportedOperationException e) {
                Files.createFile(f); // not a POSIX file system: its own access rules apply
            }
        } catch (FileAlreadyExistsException e) {
            // an existing database (or an empty file, which SQLite treats as a new database)
        } catch (IOException e) {
            throw new StoreException("cannot create database " + f + ": " + e, e);
        }
    }

    /**
     * Refuses SQLite files that are not ours (another program's database, or one from a newer
     * Visor whose schema we would misread) and files SQLite finds damaged. A brand new file has
     * application_id 0, user_version 0 and no tables.
     */
    private static void checkIdentity(Path f, Connection c) throws SQLException, StoreException {
        int appId = pragmaInt(c, "application_id");
        int version = pragmaInt(c, "user_version");
        if (appId != Schema.APPLICATION_ID && (appId != 0 || version != 0 || hasTables(c))) {
            throw new StoreException(f + " is an SQLite database but not a Visor one (application_id "
                    + appId + "); move it aside or choose another state directory");
        }
        if (version > Schema.latest()) {
            throw new StoreException(f + " has schema version " + version + ", newer than this visord knows ("
                    + Schema.latest() + "); run the newer visord, or restore a backup from before the upgrade");
        }
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("PRAGMA quick_check")) {
            // "ok", or problems: one per row, and a row may hold several lines
            List<String> problems = new ArrayList<>();
            while (rs.next()) {
                for (String line : String.valueOf(rs.getString(1)).split("\n")) {
                    if (!line.isBlank() && !line.startsWith("*** in database")) problems.add(line.strip());
                }
            }
            if (!problems.equals(List.of("ok"))) {
                String first = problems.isEmpty() ? "no answer" : problems.getFirst();
                String more = problems.size() > 1 ? " and " + (problems.size() - 1) + " more problems" : "";
                throw new StoreException(corrupt(f, "quick_check: " + first + more));
            }
        }
    }

    private static void migrate(Path f, Connection c) throws SQLException, StoreException {
        for (Schema.Migration m : Schema.MIGRATIONS) {
            if (pragmaInt(c, "user_version") >= m.version()) continue;
            c.setAutoCommit(false);
            boolean committed = false;
            try (Statement s = c.createStatement()) {
                // read again inside the (immediate, so exclusive-for-writers) transaction: another
                // process opening the same file may have applied it meanwhile
                if (pragmaInt(c, "user_version") < m.version()) {
                    for (String sql : m.statements()) s.execute(sql);
                    s.execute("PRAGMA user_version = " + m.version());
                }
                c.commit();
                committed = true;
            } catch (SQLException e) {
                throw new StoreException("cannot upgrade database " + f + " to schema version " + m.version()
                        + " (" + m.purpose() + "): " + sqliteMessage(e), e);
            } finally {
                if (!committed) rollbackQuietly(c);
                c.setAutoCommit(true);
            }
        }
    }

    static int pragmaInt(Connection c, String pragma) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("PRAGMA " + pragma)) {
            return rs.next() ? rs.getInt(1) : 0;
        }
    }

    private static boolean hasTables(Connection c) throws SQLException {
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT 1 FROM sqlite_schema LIMIT 1")) {
            return rs.next();
        }
    }

    /** A one-line StoreException for an SQLite failure, saying what it means for the operator. */
    static StoreException failure(Path f, SQLException e) {
        String msg = "SQLite: " + sqliteMessage(e);
        int primary = e instanceof SQLiteException se ? se.getResultCode().code & 0xff : -1;
        String line = switch (primary) {
            case 26 -> f + " is not a Visor database (" + msg + "); move it aside to start with an empty one,"
                    + " or restore it from a backup"; // SQLITE_NOTADB
            case 11 -> corrupt(f, msg); // SQLITE_CORRUPT
            case 5 -> "database " + f + " is locked by another process (a second visord on the same state directory?): "
                    + msg; // SQLITE_BUSY
            case 8 -> "database " + f + " is read-only (check the file's and its directory's permissions): " + msg;
            case 13 -> "database " + f + ": the disk is full: " + msg; // SQLITE_FULL
            case 14 -> "cannot open database " + f + " (check that its directory is writable): " + msg; // CANTOPEN
            default -> "database " + f + ": " + msg;
        };
        return new StoreException(line, e);
    }

    private static String corrupt(Path f, String detail) {
        return f + " is corrupt (" + oneLine(detail) + "); restore it from a backup, or move it aside to start with an empty one";
    }

    /**
     * SQLite's own words: sqlite-jdbc says "[SQLITE_NOTADB] File opened that is not a database
     * file (file is not a database)", whose parenthesis is the specific part.
     */
    private static String sqliteMessage(SQLException e) {
        String msg = oneLine(e.getMessage());
        Matcher m = SQLITE_JDBC_MESSAGE.matcher(msg);
        return m.matches() ? m.group(1) : msg;
    }

    static String oneLine(String s) {
        return s == null ? "unknown error" : s.replaceAll("\\s+", " ").strip();
    }

    private static void rollbackQuietly(Connection c) {
        try {
            c.rollback();
        } catch (SQLException ignored) {
            // the original failure is the one worth reporting; SQLite rolls back on close anyway
        }
    }

    private static void closeQuietly(Connection c) {
        try {
            c.close();
        } catch (SQLException ignored) {
            // already failing with a better message
        }
    }
}
