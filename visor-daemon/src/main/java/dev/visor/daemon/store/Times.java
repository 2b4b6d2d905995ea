package dev.visor.daemon.store;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;

/**
 * How instants are kept in the database: UTC ISO-8601 text with always nine fraction digits
 * ("2026-11-28T10:00:05.123456789Z"). Text so a person reading the file with sqlite3 sees times;
 * fixed width so text order is time order ({@link Instant#toString()} drops zero fractions, and
 * "...:05Z" would sort after "...:05.5Z"); nine digits so an instant (a process start time, used
 * to tell a VMM from a later process with the same pid) comes back exactly.
 */
final class Times {
    private static final DateTimeFormatter FORMAT =
            DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSSSSS'Z'").withZone(ZoneOffset.UTC);

    private Times() {}

    /** The stored text for {@code t}, or null for null. */
    static String format(Instant t) {
        return t == null ? null : FORMAT.format(t);
    }

    /** Reads a stored instant; null for null. Throws IllegalArgumentException naming the bad text. */
    static Instant parse(String s) {
        if (s == null) return null;
        try {
            return Instant.parse(s);
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException("not a time: '" + s + "'");
        }
    }
}
