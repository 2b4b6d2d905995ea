package dev.visor.vmm;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Sizes as people type them, for memory and disks (the CLI, the control socket and the daemon's
 * API all take them): {@code 536870912} (bytes), {@code 512M}, {@code 1G}, {@code 1.5G}, {@code 512MiB},
 * {@code 2GB}. Suffixes are binary (K = 1024) whatever their spelling, as in QEMU.
 */
public final class Sizes {
    private static final Pattern SIZE =
            Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(?:([kmgt])(?:i?b)?|(b))?", Pattern.CASE_INSENSITIVE);

    private Sizes() {}

    /** Parses a size; the message of the exception is one line for a person. */
    public static long parse(String text) {
        if (text == null || text.isBlank()) throw new IllegalArgumentException("empty size");
        String t = text.strip();
        Matcher m = SIZE.matcher(t);
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not a size (use e.g. 512M, 1G or a number of bytes)");
        }
        int shift = m.group(2) == null ? 0 : switch (Character.toLowerCase(m.group(2).charAt(0))) {
            case 'k' -> 10;
            case 'm' -> 20;
            case 'g' -> 30;
            case 't' -> 40;
            default -> throw new AssertionError();
        };
        BigDecimal bytes = new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(2).pow(shift));
        if (bytes.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
            throw new IllegalArgumentException("'" + text + "' is too large");
        }
        try {
            return bytes.longValueExact();
        } catch (ArithmeticException notWhole) {
            throw new IllegalArgumentException("'" + text + "' is not a whole number of bytes");
        }
    }

    /** A short exact form when there is one ({@code 512M}, {@code 1G}, {@code 1536K}), else bytes. */
    public static String exact(long bytes) {
        String[] units = {"T", "G", "M", "K"};
        int[] shifts = {40, 30, 20, 10};
        for (int i = 0; i < units.length; i++) {
            long unit = 1L << shifts[i];
            if (bytes != 0 && bytes % unit == 0) return (bytes / unit) + units[i];
        }
        return Long.toString(bytes);
    }

    /** A rounded form for people: {@code 27.4 MiB}, {@code 812 KiB}, {@code 100 B}. */
    public static String human(long bytes) {
        if (bytes < 1024) return bytes + " B";
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return (v >= 100 ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.1f", v)) + " " + units[u];
    }
}
