package dev.visor.vmm;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Bare-metal RISC-V programs (src/test/resources/baremetal/*.S, riscv-tests style) assembled and
 * linked with the riscv64 GNU binutils at test time, then run as a whole VM through
 * {@link VirtualMachine}: the ELF is loaded without firmware and reports through HTIF tohost, so the
 * exit status is 0 for a pass and the number of the failing test otherwise.
 */
class BareMetalTest {
    static final String PREFIX = "riscv64-linux-gnu-";
    static final String[] SOURCES = {"riscv_test.S", "link.ld"};
    static final long TIMEOUT_MS = 60_000;

    @TempDir
    static Path dir;

    @BeforeAll
    static void binutils() throws IOException {
        assumeTrue(onPath(PREFIX + "as") && onPath(PREFIX + "ld"),
                PREFIX + "as/ld not found: apt-get install binutils-riscv64-linux-gnu");
        for (String s : SOURCES) copyResource(s);
    }

    static boolean onPath(String tool) {
        String path = System.getenv("PATH");
        if (path == null) return false;
        for (String d : path.split(java.io.File.pathSeparator)) if (Files.isExecutable(Path.of(d, tool))) return true;
        return false;
    }

    static void copyResource(String name) throws IOException {
        try (InputStream in = BareMetalTest.class.getResourceAsStream("/baremetal/" + name)) {
            if (in == null) throw new IOException("missing test resource baremetal/" + name);
            Files.write(dir.resolve(name), in.readAllBytes());
        }
    }

    static void tool(String... cmd) throws IOException, InterruptedException {
        List<String> c = new ArrayList<>(List.of(cmd));
        c.set(0, PREFIX + c.get(0));
        Process p = new ProcessBuilder(c).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(c + " timed out");
        }
        if (p.exitValue() != 0) throw new IOException(c + " failed:\n" + out);
    }

    /** Assembles and links baremetal/{name}.S; returns the ELF. */
    static Path build(String name) throws IOException, InterruptedException {
        copyResource(name + ".S");
        tool("as", "-march=rv64gc", "-mabi=lp64d", "-I", ".", "-o", name + ".o", name + ".S");
        tool("ld", "-T", "link.ld", "--no-warn-rwx-segments", "-o", name + ".elf", name + ".o");
        return dir.resolve(name + ".elf");
    }

    record Result(int status, String console) {}

    /** Runs the program on a VM with {@code cpus} harts and returns its exit status; fails on timeout. */
    static Result run(String name, int cpus) throws Exception {
        Path elf = build(name);
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        VirtualMachine vm = VirtualMachine.build(new VmSpec(cpus, 64L << 20, elf, null, null, ""), console);
        AtomicBoolean timedOut = new AtomicBoolean();
        Thread watchdog = Thread.ofPlatform().daemon().start(() -> {
            try {
                Thread.sleep(TIMEOUT_MS);
                timedOut.set(true);
                vm.stop();
            } catch (InterruptedException e) {
                // finished in time
            }
        });
        vm.start();
        int status = vm.awaitExit();
        watchdog.interrupt();
        assertFalse(timedOut.get(), name + " did not finish within " + TIMEOUT_MS + " ms");
        assertNull(vm.failure(), name + ": engine failure");
        return new Result(status, console.toString(StandardCharsets.UTF_8));
    }

    static void assertPasses(String name, int cpus) throws Exception {
        Result r = run(name, cpus);
        assertEquals(0, r.status(), name + " failed test number " + r.status() + (r.console().isEmpty() ? "" : "; console:\n" + r.console()));
    }

    @Test
    void frameworkPasses() throws Exception {
        assertPasses("hello_pass", 1);
    }

    @Test
    void failingTestNumberIsTheExitStatus() throws Exception {
        assertEquals(3, run("deliberate_fail", 1).status());
    }

    @Test
    void unexpectedTrapFails() throws Exception {
        assertEquals(1337, run("unexpected_trap", 1).status());
    }

    @Test
    void integerAlu() throws Exception {
        assertPasses("rv64ui", 1);
    }

    @Test
    void multiplyDivide() throws Exception {
        assertPasses("rv64um", 1);
    }

    @Test
    void atomics() throws Exception {
        assertPasses("rv64ua", 1);
    }

    @Test
    void compressed() throws Exception {
        assertPasses("rv64uc", 1);
    }

    @Test
    void lrScCounterRaceOnTwoHarts() throws Exception {
        assertPasses("lrsc_race", 2);
    }

    @Test
    void traps() throws Exception {
        assertPasses("traps", 1);
    }

    @Test
    void sv39Paging() throws Exception {
        assertPasses("sv39", 1);
    }

    @Test
    void timerInterrupt() throws Exception {
        assertPasses("timer", 1);
    }

    @Test
    void floatingPointSmoke() throws Exception {
        assertPasses("rv64ufd", 1);
    }

    @Test
    void uartConsoleAndSysconPoweroff() throws Exception {
        Result r = run("uart_poweroff", 1);
        assertEquals(0, r.status());
        assertTrue(r.console().contains("hello from bare metal"), "console: " + r.console());
    }
}
