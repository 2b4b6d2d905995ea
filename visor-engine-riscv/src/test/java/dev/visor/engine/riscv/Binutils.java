package dev.visor.engine.riscv;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Runs the riscv64 GNU binutils (Debian's binutils-riscv64-linux-gnu) as a test oracle. */
final class Binutils {
    static final String PREFIX = "riscv64-linux-gnu-";

    private Binutils() {}

    static boolean available() {
        String path = System.getenv("PATH");
        if (path == null) return false;
        for (String dir : path.split(java.io.File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, PREFIX + "as")) && Files.isExecutable(Path.of(dir, PREFIX + "objdump"))
                    && Files.isExecutable(Path.of(dir, PREFIX + "objcopy"))) {
                return true;
            }
        }
        return false;
    }

    static void assumeAvailable() {
        assumeTrue(available(), PREFIX + "as/objdump/objcopy not found (apt-get install binutils-riscv64-linux-gnu)");
    }

    /** Runs a tool and returns its standard output; fails with its error output. */
    static String run(Path dir, String... command) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(command));
        cmd.set(0, PREFIX + cmd.get(0));
        Path err = dir.resolve("stderr.txt");
        Path out = dir.resolve("stdout.txt");
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectError(err.toFile()).redirectOutput(out.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(cmd + " timed out");
        }
        if (p.exitValue() != 0) {
            throw new IOException(cmd + " failed (" + p.exitValue() + "): " + Files.readString(err, StandardCharsets.UTF_8));
        }
        return Files.readString(out, StandardCharsets.UTF_8);
    }

    /** Assembles {@code source} with {@code -march=march} and returns the raw bytes of its .text section. */
    static byte[] assembleText(Path dir, String name, String source, String march) throws IOException, InterruptedException {
        Path s = dir.resolve(name + ".s");
        Files.writeString(s, source);
        run(dir, "as", "-march=" + march, "-mabi=lp64d", "-o", name + ".o", name + ".s");
        run(dir, "objcopy", "-O", "binary", "-j", ".text", name + ".o", name + ".bin");
        return Files.readAllBytes(dir.resolve(name + ".bin"));
    }
}
