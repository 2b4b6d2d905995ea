package dev.visor.engine.riscv;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A guest profiler for tuning the engine: with {@code -Dvisor.profile=FILE} every translated block counts
 * the guest instructions run in it (block chaining is off, so every run passes the dispatcher), the
 * interpreter counts the instructions it runs by address, and every five seconds, and when the harts
 * stop, FILE gets one line per block: its guest-physical address, its instruction count and the
 * instructions run in it, then one line per interpreted address: the address, 1, the times it ran, and
 * the word "interpreted". All cumulative. Subtracting two snapshots (FILE.1, FILE.2, ...) isolates a
 * workload; the README says how to resolve the addresses against the guest's /proc/kallsyms. The
 * interpreted lines show code that should run translated and does not (that is how CSR instructions
 * ending regions, and slices ending in the interpreter, showed up). Counting disturbs timing, so this
 * is never on by default.
 */
final class BlockProfile {
    static final String FILE = System.getProperty("visor.profile");
    static final boolean ON = FILE != null;

    private BlockProfile() {}

    /** Counts one interpreted instruction at guest-physical address {@code pa} (the hart's own thread). */
    static void countInterpreted(Hart h, long pa) {
        h.interpretedAt.computeIfAbsent(pa, k -> new long[1])[0]++; // a plain increment: one writer per map
    }

    /** Writes the profile of {@code harts} to FILE (and to FILE.{@code serial} when serial > 0). */
    static void write(Hart[] harts, int serial) {
        java.util.HashMap<Long, long[]> byAddress = new java.util.HashMap<>();
        for (Hart h : harts) {
            h.blocks.forEach(b -> {
                long[] c = byAddress.computeIfAbsent(b.physAddr, k -> new long[2]);
                c[0] = Math.max(c[0], b.count);
                c[1] += b.profiledInstructions;
            });
        }
        java.util.HashMap<Long, Long> interpreted = new java.util.HashMap<>();
        for (Hart h : harts) h.interpretedAt.forEach((addr, c) -> interpreted.merge(addr, c[0], Long::sum));
        Path out = Path.of(serial > 0 ? FILE + "." + serial : FILE);
        try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(out))) {
            byAddress.forEach((addr, c) -> w.printf("%x %d %d%n", addr, c[0], c[1]));
            interpreted.forEach((addr, n) -> w.printf("%x 1 %d interpreted%n", addr, n));
        } catch (IOException e) {
            System.err.println("visor: cannot write the guest profile " + out + ": " + e.getMessage());
        }
    }
}
