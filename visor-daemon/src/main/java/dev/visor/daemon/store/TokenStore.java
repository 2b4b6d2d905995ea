package dev.visor.daemon.store;

import dev.visor.daemon.model.Role;
import dev.visor.daemon.model.TokenInfo;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The API's bearer tokens. A secret is "visor_" + 32 random bytes in unpadded base64url (256
 * bits: not guessable, and safe in a header or a URL); the prefix lets secret scanners and people
 * recognise one. Only its SHA-256 is stored, so reading the database (or a backup of it) gives no
 * usable token. A plain hash is enough, without salt or a slow KDF, because the secret is random
 * and long, not a password.
 *
 * <p>Authentication looks the hash up by equality in the database; the secret itself is never
 * compared, so no constant-time comparison is needed, and it is never logged or put in a message.
 */
public final class TokenStore {
    static final String PREFIX = "visor_";
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,64}");
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Database db;

    public TokenStore(Database db) {
        this.db = Objects.requireNonNull(db);
    }

    /**
     * Creates a token and returns its secret: the only time it is seen. Names are 1-64 characters
     * of A-Z a-z 0-9 . _ - (IllegalArgumentException otherwise); a name in use gives
     * NameTakenException.
     */
    public String create(String name, Role role) throws StoreException {
        checkName(name);
        Objects.requireNonNull(role, "role");
        byte[] random = new byte[32];
        RANDOM.nextBytes(random);
        String secret = PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(random);
        String hash = hash(secret);
        Instant now = Instant.now();
        db.transaction(c -> {
            try (PreparedStatement q = c.prepareStatement("SELECT 1 FROM tokens WHERE name = ?")) {
                q.setString(1, name);
                try (ResultSet rs = q.executeQuery()) {
                    if (rs.next()) throw new NameTakenException("a token named '" + name + "' already exists");
                }
            }
            try (PreparedStatement ins = c.prepareStatement(
                    "INSERT INTO tokens (name, role, hash, created) VALUES (?, ?, ?, ?)")) {
                ins.setString(1, name);
                ins.setString(2, role.apiName());
                ins.setString(3, hash);
                ins.setString(4, Times.format(now));
                ins.executeUpdate();
            }
            return null;
        });
        return secret;
    }

    /** The token whose secret this is, or empty (also for null or a wrong secret). */
    public Optional<TokenInfo> authenticate(String secret) throws StoreException {
        if (secret == null || secret.isEmpty()) return Optional.empty();
        String hash = hash(secret);
        return db.read(c -> {
            try (PreparedStatement q = c.prepareStatement("SELECT name, role, created FROM tokens WHERE hash = ?")) {
                q.setString(1, hash);
                try (ResultSet rs = q.executeQuery()) {
                    return rs.next() ? Optional.of(decode(rs)) : Optional.empty();
                }
            }
        });
    }

    /** All tokens by name (never their secrets: those are not kept). */
    public List<TokenInfo> list() throws StoreException {
        return db.read(c -> {
            List<TokenInfo> out = new ArrayList<>();
            try (Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT name, role, created FROM tokens ORDER BY name")) {
                while (rs.next()) out.add(decode(rs));
            }
            return out;
        });
    }

    /** Revokes the token; false when there was none of that name. */
    public boolean delete(String name) throws StoreException {
        return db.transaction(c -> {
            try (PreparedStatement del = c.prepareStatement("DELETE FROM tokens WHERE name = ?")) {
                del.setString(1, name);
                return del.executeUpdate() > 0;
            }
        });
    }

    /** True when there are no tokens (the daemon then makes the first admin token). */
    public boolean isEmpty() throws StoreException {
        return db.read(c -> {
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT EXISTS (SELECT 1 FROM tokens)")) {
                return !(rs.next() && rs.getInt(1) == 1);
            }
        });
    }

    /** Throws IllegalArgumentException (one line) unless {@code name} is a valid token name. */
    static void checkName(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("a token name is 1-64 characters of A-Z a-z 0-9 . _ - (got "
                    + (name == null ? "none" : "'" + name + "'") + ")");
        }
    }

    /** Lower-case hex SHA-256 of the secret's UTF-8 bytes: what the tokens table keeps. */
    static String hash(String secret) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            return HexFormat.of().formatHex(sha.digest(secret.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e); // every JVM must have it
        }
    }

    private TokenInfo decode(ResultSet rs) throws SQLException, StoreException {
        String name = rs.getString("name");
        try {
            return new TokenInfo(name, Role.parse(rs.getString("role")), Times.parse(rs.getString("created")));
        } catch (IllegalArgumentException e) {
            throw new StoreException("token '" + name + "' is stored but cannot be read (" + e.getMessage()
                    + "); delete it and create it again");
        }
    }
}
