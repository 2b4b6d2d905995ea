package dev.visor.bench;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/** What Linux's /proc says about a process: CPU time (whole and per thread) and resident memory. */
final class ProcStats {
    private ProcStats() {}

    /** Clock ticks per second of /proc/PID/stat's times ({@code getconf CLK_TCK}; 100 if that fails). */
    static long clockTicksPerSecond() {
        try {
            Process p = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).strip();
            if (p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0) return Long.parseLong(out);
        } catch (IOException | NumberFormatException e) {
            // fall through
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 100;
    }

    /** utime + stime of {@code pid}, in clock ticks (fields 14 and 15 of /proc/PID/stat). */
    static long cpuTicks(long pid) throws IOException {
        return cpuTicks(Path.of("/proc", Long.toString(pid), "stat"));
    }

    /** utime + stime from a /proc/PID/stat or /proc/PID/task/TID/stat file. */
    private static long cpuTicks(Path statFile) throws IOException {
        String stat = Files.readString(statFile);
        // the command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split("\\s+");
        // f[0] is field 3 (state), so field n is f[n - 3]
        return Long.parseLong(f[14 - 3]) + Long.parseLong(f[15 - 3]);
    }

    /**
     * utime + stime of each thread of {@code pid}, in clock ticks, summed by thread name
     * (/proc/PID/task/TID/comm: for a JVM the Java thread's name, cut to 15 characters).
     * Threads that end while being read are left out.
     */
    static Map<String, Long> threadTicks(long pid) throws IOException {
        Map<String, Long> ticks = new TreeMap<>();
        Path tasks = Path.of("/proc", Long.toString(pid), "task");
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(tasks)) {
            for (Path task : dir) {
                try {
                    String name = Files.readString(task.resolve("comm")).strip();
                    ticks.merge(name, cpuTicks(task.resolve("stat")), Long::sum);
                } catch (IOException | RuntimeException e) {
                    // the thread ended
                }
            }
        }
        return ticks;
    }

    /** The command name of {@code pid} (/proc/PID/comm), e.g. "java". */
    static String comm(long pid) throws IOException {
        return Files.readString(Path.of("/proc", Long.toString(pid), "comm")).strip();
    }

    /**
     * Resident memory of a process, split into guest RAM and the rest.
     *
     * @param totalRssKiB    the process's whole resident set
     * @param guestRamRssKiB resident part of the guest-RAM mapping, or -1 when none was found
     * @param guestMapping   the guest-RAM mapping's header line from smaps, or null
     */
    record Memory(long totalRssKiB, long guestRamRssKiB, String guestMapping) {
        boolean foundGuestRam() { return guestRamRssKiB >= 0; }
        long overheadKiB() { return totalRssKiB - Math.max(0, guestRamRssKiB); }
    }

    /**
     * Reads /proc/PID/smaps: the mapping whose size equals {@code guestRamBytes} is guest RAM (if
     * there is none, the smallest mapping at most 2 MiB larger, to allow a guard page or alignment).
     */
    static Memory memory(long pid, long guestRamBytes) throws IOException {
        List<String> lines = Files.readAllLines(Path.of("/proc", Long.toString(pid), "smaps"));
        long guestKiB = guestRamBytes / 1024, slackKiB = 2048;
        long total = 0;
        String header = null;
        long size = -1;
        long bestRss = -1, bestSize = Long.MAX_VALUE;
        String bestHeader = null;
        for (String line : lines) {
            if (isMappingHeader(line)) {
                header = line;
                size = -1;
            } else if (line.startsWith("Size:")) {
                size = kib(line);
            } else if (line.startsWith("Rss:")) {
                long rss = kib(line);
                total += rss;
                if (size >= guestKiB && size <= guestKiB + slackKiB && size < bestSize) {
                    bestSize = size;
                    bestRss = rss;
                    bestHeader = header;
                }
            }
        }
        return new Memory(total, bestRss, bestHeader);
    }

    /** "55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0  [heap]" */
    private static boolean isMappingHeader(String line) {
        int dash = line.indexOf('-'), space = line.indexOf(' ');
        if (dash <= 0 || space <= dash) return false;
        for (int i = 0; i < space; i++) {
            char c = line.charAt(i);
            if (i != dash && Character.digit(c, 16) < 0) return false;
        }
        return true;
    }

    /** "Rss:                 124 kB" -> 124 */
    private static long kib(String line) {
        String[] f = line.trim().split("\\s+");
        return Long.parseLong(f[1]);
    }
}
