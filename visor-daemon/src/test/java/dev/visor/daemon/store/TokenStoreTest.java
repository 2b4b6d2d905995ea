package dev.visor.daemon.store;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.visor.daemon.model.Role;
import dev.visor.daemon.model.TokenInfo;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenStoreTest {
    @TempDir
    Path dir;
    Path file;
    Database db;
    TokenStore tokens;

    @BeforeEach
    void open() throws StoreException {
        file = dir.resolve("visor.db");
        db = Database.open(file);
        tokens = new TokenStore(db);
    }

    @AfterEach
    void close() {
        db.close();
    }

    @Test
    void secretIsPrefixedRandomBase64url() throws Exception {
        String a = tokens.create("a", Role.ADMIN);
        String b = tokens.create("b", Role.ADMIN);
        assertTrue(a.matches("visor_[A-Za-z0-9_-]{43}"), a); // 32 bytes, unpadded
        assertNotEquals(a, b);
    }

    @Test
    void secretAuthenticatesAndWrongOnesDoNot() throws Exception {
        Instant before = Instant.now();
        String secret = tokens.create("ci", Role.OPERATOR);
        Optional<TokenInfo> info = tokens.authenticate(secret);
        assertTrue(info.isPresent());
        assertEquals("ci", info.get().name());
        assertEquals(Role.OPERATOR, info.get().role());
        assertFalse(info.get().created().isBefore(before));

        char last = secret.charAt(secret.length() - 1);
        String oneCharOff = secret.substring(0, secret.length() - 1) + (last == 'A' ? 'B' : 'A');
        assertEquals(Optional.empty(), tokens.authenticate(oneCharOff));
        assertEquals(Optional.empty(), tokens.authenticate(secret.substring("visor_".length())));
        assertEquals(Optional.empty(), tokens.authenticate(secret + " "));
        assertEquals(Optional.empty(), tokens.authenticate(""));
        assertEquals(Optional.empty(), tokens.authenticate(null));
        assertEquals(Optional.empty(), tokens.authenticate(TokenStore.hash(secret)), "the stored hash is no key");
    }

    @Test
    void databaseHoldsOnlyTheHashNeverTheSecret() throws Exception {
        List<String> secrets = List.of(tokens.create("admin", Role.ADMIN), tokens.create("ci", Role.VIEWER));
        List<String> values = allValues();
        for (String secret : secrets) {
            String body = secret.substring("visor_".length());
            for (String v : values) {
                assertFalse(v.contains(body), "a stored value contains a secret: " + v);
            }
            assertTrue(values.contains(TokenStore.hash(secret)), "its SHA-256 is what is stored");
        }
        // nor in the raw bytes of the file or its WAL
        db.close();
        for (Path p : List.of(file, dir.resolve("visor.db-wal"))) {
            if (!Files.exists(p)) continue;
            String raw = new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1);
            for (String secret : secrets) assertFalse(raw.contains(secret.substring(6)), p + " contains a secret");
        }
    }

    @Test
    void duplicateAndInvalidNamesAreRefused() throws Exception {
        String first = tokens.create("ci", Role.VIEWER);
        NameTakenException e = assertThrows(NameTakenException.class, () -> tokens.create("ci", Role.ADMIN));
        assertTrue(e.getMessage().contains("'ci'"), e.getMessage());
        assertEquals(Role.VIEWER, tokens.authenticate(first).orElseThrow().role(), "the first is untouched");

        for (String bad : new String[] {"", "a b", "a/b", "ü", "x".repeat(65), null}) {
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> tokens.create(bad, Role.ADMIN));
            assertTrue(ex.getMessage().contains("1-64 characters"), ex.getMessage());
        }
        assertDoesNotThrow(() -> tokens.create("x".repeat(64), Role.ADMIN));
        assertDoesNotThrow(() -> tokens.create("Ops.team_2-b", Role.ADMIN));
    }

    @Test
    void listDeleteAndIsEmpty() throws Exception {
        assertTrue(tokens.isEmpty());
        String zed = tokens.create("zed", Role.VIEWER);
        tokens.create("amy", Role.ADMIN);
        assertFalse(tokens.isEmpty());
        List<TokenInfo> list = tokens.list();
        assertEquals(List.of("amy", "zed"), list.stream().map(TokenInfo::name).toList());
        assertEquals(List.of(Role.ADMIN, Role.VIEWER), list.stream().map(TokenInfo::role).toList());

        assertTrue(tokens.delete("zed"));
        assertFalse(tokens.delete("zed"));
        assertEquals(Optional.empty(), tokens.authenticate(zed), "a revoked token no longer works");
        assertTrue(tokens.delete("amy"));
        assertTrue(tokens.isEmpty());
    }

    /** Every value of every column of every table, through a plain connection (as sqlite3 would see them). */
    private List<String> allValues() throws Exception {
        List<String> values = new ArrayList<>();
        try (Connection c = StoreFixtures.plainJdbc(file); Statement s = c.createStatement()) {
            List<String> tables = new ArrayList<>();
            try (ResultSet rs = s.executeQuery("SELECT name FROM sqlite_schema WHERE type = 'table'")) {
                while (rs.next()) tables.add(rs.getString(1));
            }
            assertTrue(tables.contains("tokens"));
            for (String t : tables) {
                try (ResultSet rs = s.executeQuery("SELECT * FROM \"" + t + "\"")) {
                    int n = rs.getMetaData().getColumnCount();
                    while (rs.next()) {
                        for (int i = 1; i <= n; i++) values.add(String.valueOf(rs.getString(i)));
                    }
                }
            }
        }
        return values;
    }
}
