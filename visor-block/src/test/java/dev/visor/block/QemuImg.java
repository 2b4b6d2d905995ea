package dev.visor.block;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;

/** Runs the real {@code qemu-img} as the judge of what Visor writes. Tests skip when it is not installed. */
final class QemuImg {
    record Result(int exit, String output) {}

    private static Boolean available;

    private QemuImg() {}

    static void assume() {
        if (available == null) {
            try {
                available = run("--version").exit == 0;
            } catch (IOException e) {
                available = false;
            }
        }
        Assumptions.assumeTrue(available, "qemu-img is not installed");
    }

    static Result run(String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("qemu-img"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(120, TimeUnit.SECONDS)) throw new IOException("qemu-img timed out: " + cmd);
            return new Result(p.exitValue(), out);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    /** Runs qemu-img and asserts it succeeded. */
    static String ok(String... args) throws IOException {
        Result r = run(args);
        assertEquals(0, r.exit, () -> "qemu-img " + String.join(" ", args) + " failed:\n" + r.output);
        return r.output;
    }

    /** {@code qemu-img create -f qcow2 [-o opts] path size}. */
    static void createQcow2(Path path, String options, long size) throws IOException {
        if (options == null || options.isEmpty()) ok("create", "-q", "-f", "qcow2", path.toString(), Long.toString(size));
        else ok("create", "-q", "-f", "qcow2", "-o", options, path.toString(), Long.toString(size));
    }

    /** Asserts {@code qemu-img check} finds neither corruption nor leaks (exit status 0). */
    static void assertClean(Path image) throws IOException {
        Result r = run("check", image.toString());
        assertEquals(0, r.exit, () -> "qemu-img check " + image + ":\n" + r.output);
        assertTrue(r.output.contains("No errors were found"), r.output);
    }

    /** Asserts {@code qemu-img compare} sees the same guest content in both images. */
    static void assertSameContent(Path a, String formatA, Path b, String formatB) throws IOException {
        Result r = run("compare", "-f", formatA, "-F", formatB, a.toString(), b.toString());
        assertEquals(0, r.exit, () -> "qemu-img compare " + a + " " + b + ":\n" + r.output);
    }

    static String infoJson(Path image) throws IOException {
        return ok("info", "--output=json", image.toString());
    }

    /** A top-level field of {@code qemu-img info --output=json}, or null. */
    static String jsonField(String json, String field) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(field) + "\":\\s*(\"([^\"]*)\"|(-?\\d+))").matcher(json);
        if (!m.find()) return null;
        return m.group(2) != null ? m.group(2) : m.group(3);
    }
}
