package dev.visor.daemon.api;

import java.math.BigDecimal;
import java.util.Locale;

/** Sizes as the API takes them: a number of bytes, or "512M", "1G", "1.5G", "64K", "2T" (binary units). */
final class Sizes {
    private Sizes() {}

    static long parse(String s) {
        String t = s.strip().toUpperCase(Locale.ROOT);
        if (t.endsWith("IB")) t = t.substring(0, t.length() - 2);
        else if (t.endsWith("B") && t.length() > 1 && !Character.isDigit(t.charAt(t.length() - 2))) t = t.substring(0, t.length() - 1);
        int shift = 0;
        if (!t.isEmpty()) {
            switch (t.charAt(t.length() - 1)) {
                case 'K' -> shift = 10;
                case 'M' -> shift = 20;
                case 'G' -> shift = 30;
                case 'T' -> shift = 40;
                default -> shift = -1;
            }
            if (shift >= 0) t = t.substring(0, t.length() - 1);
            else shift = 0;
        }
        try {
            BigDecimal v = new BigDecimal(t).multiply(BigDecimal.valueOf(1L << shift));
            if (v.signum() < 0) throw new IllegalArgumentException("a size cannot be negative");
            return v.setScale(0, java.math.RoundingMode.CEILING).longValueExact();
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("'" + s + "' is not a size (e.g. 512M, 1G or a number of bytes)");
        }
    }
}
