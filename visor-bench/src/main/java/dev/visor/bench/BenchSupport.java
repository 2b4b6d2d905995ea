package dev.visor.bench;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/** Small helpers the benchmarks share: option values, host facts, medians and number formatting. */
final class BenchSupport {
    private BenchSupport() {}

    /** {@code v} as a whole number above zero, else an IllegalArgumentException naming {@code option}. */
    static int positive(String option, String v) {
        try {
            int n = Integer.parseInt(v);
            if (n > 0) return n;
        } catch (NumberFormatException e) {
            // below
        }
        throw new IllegalArgumentException(option + " must be a positive whole number, not '" + v + "'");
    }

    /** The median of ascending {@code sorted}; NaN if it is empty. */
    static double median(double[] sorted) {
        if (sorted.length == 0) return Double.NaN;
        int m = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    }

    /** Two decimals, or "-" for NaN. */
    static String num(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.2f", v);
    }

    static double seconds(long nanos) {
        return nanos / 1e9;
    }

    /** /proc/loadavg's three averages, or "?". */
    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException e) {
            return "?";
        }
    }

    /** The full path of an executable (as given if it contains a slash, else looked up on PATH), or null. */
    static String onPath(String exe) {
        if (exe.contains("/")) return Files.isExecutable(Path.of(exe)) ? exe : null;
        String path = System.getenv("PATH");
        if (path == null) return null;
        for (String d : path.split(File.pathSeparator)) {
            Path p = Path.of(d, exe);
            if (Files.isExecutable(p)) return p.toString();
        }
        return null;
    }

    /** The first line {@code exe arg} prints (e.g. its version), or "?". */
    static String firstLine(String exe, String arg) {
        try {
            Process p = new ProcessBuilder(exe, arg).redirectErrorStream(true).start();
            String s = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor(10, TimeUnit.SECONDS);
            return s.lines().findFirst().orElse("?").strip();
        } catch (IOException e) {
            return "?";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "?";
        }
    }
}
