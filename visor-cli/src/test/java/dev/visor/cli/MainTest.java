package dev.visor.cli;

import dev.visor.images.GuestImage;
import dev.visor.images.ImageException;
import dev.visor.vmm.VmSpec;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MainTest {
    @TempDir
    Path dir;

    GuestImage image;
    FakeImages images;

    /** An image store that counts its calls and fails with {@code failure} when that is set. */
    static final class FakeImages implements Images {
        GuestImage image;
        boolean cached = true;
        Exception failure;
        int pulls;

        @Override
        public GuestImage defaultImage(PrintStream progress) throws ImageException {
            pulls++;
            fail();
            return image;
        }

        @Override
        public GuestImage pull(PrintStream progress, boolean force) throws ImageException {
            pulls++;
            fail();
            cached = true;
            return image;
        }

        @Override
        public Optional<GuestImage> cached() throws ImageException {
            fail();
            return cached ? Optional.of(image) : Optional.empty();
        }

        @Override
        public Path cacheDirectory() {
            return Path.of("/cache/visor");
        }

        private void fail() throws ImageException {
            if (failure instanceof ImageException e) throw e;
            if (failure instanceof RuntimeException e) throw e;
        }
    }

    /** What one command line did. */
    record Result(int status, String out, String err) {
        String[] errLines() {
            return err.isEmpty() ? new String[0] : err.split("\\R");
        }
    }

    @BeforeEach
    void setUp() throws IOException {
        Path kernel = Files.write(dir.resolve("vmlinuz"), new byte[4096]);
        Path initrd = Files.write(dir.resolve("initrd.img"), new byte[100]);
        Path fw = Files.write(dir.resolve("fw_jump.bin"), new byte[2048]);
        image = new GuestImage(kernel, initrd, fw, "6.12.99+deb13-riscv64");
        images = new FakeImages();
        images.image = image;
    }

    Result run(String... args) {
        CommandLine cl = Main.commandLine(images);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int status = cl.execute(args);
        return new Result(status, out.toString(), err.toString());
    }

    /** The VmSpec that `visor run args` would build, without building it. */
    VmSpec spec(String... args) throws Exception {
        CommandLine cl = Main.commandLine(images);
        cl.parseArgs(prepend("run", args));
        RunCommand run = cl.getSubcommands().get("run").getCommand();
        return run.resolve(new PrintStream(PrintStream.nullOutputStream()));
    }

    private static String[] prepend(String first, String[] rest) {
        String[] all = new String[rest.length + 1];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return all;
    }

    private static void assertOneLine(Result r, int status, String expected) {
        assertEquals(status, r.status(), r.err());
        assertEquals(1, r.errLines().length, () -> "one line expected: " + r.err());
        assertEquals(expected, r.errLines()[0]);
    }

    // ---- help and version

    @Test
    void help() {
        Result r = run("--help");
        assertEquals(0, r.status());
        assertTrue(r.out().contains("run"), r.out());
        assertTrue(r.out().contains("image"), r.out());
        Result runHelp = run("run", "--help");
        assertEquals(0, runHelp.status());
        for (String opt : new String[] {"--cpus", "--memory", "--kernel", "--initrd", "--firmware", "--append", "--debug", "Ctrl-A x",
                "--serial-socket", "--serial-log", "--exit-status-file"}) {
            assertTrue(runHelp.out().contains(opt), opt + " in " + runHelp.out());
        }
        assertEquals(0, run("help", "run").status());
    }

    @Test
    void version() {
        Result r = run("--version");
        assertEquals(0, r.status());
        assertTrue(r.out().startsWith("visor "), r.out());
        assertTrue(r.out().contains("Java " + Runtime.version().feature()), r.out());
    }

    @Test
    void noCommandIsAUsageError() {
        Result r = run();
        assertEquals(2, r.status());
        assertTrue(r.err().contains("Usage: visor"), r.err());
        assertEquals(2, run("image").status());
    }

    // ---- usage errors: one line (plus a hint when the command line was not understood), status 2

    @Test
    void cpusOutOfRange() {
        assertOneLine(run("run", "--cpus", "0"), 2, "visor: --cpus must be between 1 and 64 (got 0)");
        assertOneLine(run("run", "--cpus", "65"), 2, "visor: --cpus must be between 1 and 64 (got 65)");
        assertOneLine(run("run", "--cpus=-3"), 2, "visor: --cpus must be between 1 and 64 (got -3)");
        assertEquals(0, images.pulls, "validation comes before any pull");
    }

    @Test
    void serialPathsInAMissingDirectoryAreOneLineBeforeTheVmIsMade() {
        Path socket = dir.resolve("no/such/console.sock");
        Result r = run("run", "--net", "none", "--serial-socket", socket.toString());
        assertEquals(1, r.status(), r.err());
        assertEquals(1, r.errLines().length, r.err());
        assertTrue(r.errLines()[0].startsWith("visor: --serial-socket " + socket + ": "), r.err());
        Path log = dir.resolve("no/such/console.log");
        assertOneLine(run("run", "--net", "none", "--serial-log", log.toString()), 1,
                "visor: --serial-log " + log + ": no such file or directory");
        assertOneLine(run("run", "--net", "none", "--serial-socket", dir.resolve("vmlinuz").toString()), 1,
                "visor: --serial-socket " + dir.resolve("vmlinuz") + ": exists and is not a socket");
    }

    @Test
    void cpusNotANumber() {
        Result r = run("run", "--cpus", "many");
        assertEquals(2, r.status());
        assertEquals(2, r.errLines().length, r.err());
        assertTrue(r.errLines()[0].startsWith("visor: Invalid value for option '--cpus'"), r.err());
        assertEquals("try 'visor run --help'", r.errLines()[1]);
    }

    @Test
    void badMemory() {
        assertOneLine(run("run", "--memory", "12x"), 2,
                "visor: --memory: '12x' is not a size (use e.g. 512M, 1G or a number of bytes)");
        assertOneLine(run("run", "-m", "8M"), 2, "visor: --memory 8M is too small: a VM needs at least 16M");
        assertOneLine(run("run", "--memory", "512"), 2,
                "visor: --memory 512 is too small: a VM needs at least 16M (did you mean 512M?)");
        assertOneLine(run("run", "--memory", "1.3G"), 2, "visor: --memory: '1.3G' is not a whole number of bytes");
        assertEquals(0, images.pulls);
    }

    @Test
    void unknownOptionGivesOneLineAndAHint() {
        Result r = run("run", "--bogus");
        assertEquals(2, r.status());
        assertEquals(2, r.errLines().length, r.err());
        assertEquals("visor: Unknown option: '--bogus'", r.errLines()[0]);
        assertEquals("try 'visor run --help'", r.errLines()[1]);
    }

    @Test
    void missingValue() {
        Result r = run("run", "--kernel");
        assertEquals(2, r.status());
        assertEquals(2, r.errLines().length, r.err());
        assertTrue(r.errLines()[0].startsWith("visor: Missing required parameter for option '--kernel'"), r.err());
    }

    @Test
    void misspelledCommandGetsASuggestion() {
        Result r = run("rnu");
        assertEquals(2, r.status());
        assertEquals(2, r.errLines().length, r.err());
        assertEquals("visor: unknown command 'rnu' (did you mean 'run'?)", r.errLines()[0]);
        assertEquals("try 'visor --help'", r.errLines()[1]);
        assertEquals("visor: unknown command 'frobnicate'", run("frobnicate").errLines()[0]);
        assertEquals("visor: unknown command 'inof' (did you mean 'info'?)", run("image", "inof").errLines()[0]);
        assertEquals("try 'visor image --help'", run("image", "inof").errLines()[1]);
    }

    @Test
    void similarNames() {
        assertTrue(Main.similar("rnu", "run"));
        assertTrue(Main.similar("rn", "run"));
        assertTrue(Main.similar("imgae", "image"));
        assertTrue(Main.similar("RUN", "run"));
        assertFalse(Main.similar("x", "run"));
        assertFalse(Main.similar("ls", "help"));
        assertFalse(Main.similar("frobnicate", "run"));
    }

    // ---- failures while running: one line, status 1

    @Test
    void missingKernelFailsBeforeAnyPull() {
        assertOneLine(run("run", "--kernel", "/nonexistent"), 1, "visor: --kernel /nonexistent: no such file");
        assertOneLine(run("run", "--kernel", dir.toString(), "--firmware", "none"), 1,
                "visor: --kernel " + dir + ": is a directory");
        assertOneLine(run("run", "--initrd", "/no/initrd"), 1, "visor: --initrd /no/initrd: no such file");
        assertOneLine(run("run", "--firmware", "/no/fw"), 1, "visor: --firmware /no/fw: no such file");
        assertEquals(0, images.pulls);
    }

    @Test
    void imageFailureIsOneLine() {
        images.failure = new ImageException("cannot download linux-image-riscv64: check network/apt configuration");
        Result r = run("run");
        assertOneLine(r, 1, "visor: cannot download linux-image-riscv64: check network/apt configuration");
        assertFalse(r.err().contains("\tat "), r.err());
    }

    @Test
    void debugPrintsTheStackTrace() {
        images.failure = new ImageException("no network");
        for (String[] args : new String[][] {{"run", "--debug"}, {"--debug", "run"}}) {
            Result r = run(args);
            assertEquals(1, r.status());
            assertEquals("visor: no network", r.errLines()[0]);
            assertTrue(r.err().contains("\tat "), r.err());
        }
    }

    @Test
    void unexpectedFailureSaysInternalError() {
        images.failure = new IllegalStateException("boom");
        Result r = run("run");
        assertEquals(1, r.status());
        assertEquals("visor: internal error: java.lang.IllegalStateException: boom", r.errLines()[0]);
        assertEquals("visor: run with --debug for the stack trace", r.errLines()[1]);
    }

    // ---- what `visor run` builds

    @Test
    void defaultsUseTheDefaultImage() throws Exception {
        VmSpec s = spec();
        assertEquals(new VmSpec(1, 512L << 20, image.kernel(), image.initrd(), image.firmware(), VmSpec.DEFAULT_APPEND,
                new VmSpec.Devices(java.util.List.of(), java.util.List.of(new dev.visor.vmm.NetSpec(dev.visor.vmm.NetSpec.Kind.USER, "", null)),
                        true, false, null, null)), s);
        assertEquals(1, images.pulls);
    }

    @Test
    void optionsReachTheSpec() throws Exception {
        VmSpec s = spec("--cpus", "4", "--memory", "1.5G", "--append", "console=ttyS0 init=/bin/sh");
        assertEquals(4, s.cpus());
        assertEquals(1536L << 20, s.memoryBytes());
        assertEquals("console=ttyS0 init=/bin/sh", s.append());
        assertEquals(536870912L, spec("-m", "536870912").memoryBytes());
        assertEquals(64, spec("--cpus", "64").cpus());
    }

    @Test
    void memoryIsRoundedUpToAPage() throws Exception {
        assertEquals(100003840L, spec("--memory", "100000001").memoryBytes());
    }

    @Test
    void ownKernelGetsNoDefaultInitrdButTheDefaultFirmware() throws Exception {
        Path k = Files.write(dir.resolve("my-kernel"), new byte[10]);
        VmSpec s = spec("--kernel", k.toString());
        assertEquals(k, s.kernel());
        assertNull(s.initrd());
        assertEquals(image.firmware(), s.firmware());
        assertEquals(1, images.pulls, "the firmware comes from the image");
    }

    @Test
    void bareMetalNeedsNoImage() throws Exception {
        Path elf = Files.write(dir.resolve("test.elf"), new byte[10]);
        VmSpec s = spec("--kernel", elf.toString(), "--firmware", "none");
        assertEquals(elf, s.kernel());
        assertNull(s.initrd());
        assertNull(s.firmware());
        assertEquals(0, images.pulls);
    }

    @Test
    void ownInitrdAndFirmwareWithTheDefaultKernel() throws Exception {
        Path i = Files.write(dir.resolve("my-initrd"), new byte[10]);
        Path f = Files.write(dir.resolve("my-fw"), new byte[10]);
        VmSpec s = spec("--initrd", i.toString(), "--firmware", f.toString());
        assertEquals(image.kernel(), s.kernel());
        assertEquals(i, s.initrd());
        assertEquals(f, s.firmware());
        assertNull(spec("--initrd", "none").initrd());
    }

    @Test
    void pipedInputWaitsForTheShellOnlyWithTheDefaultInitramfs() throws Exception {
        Path own = Files.write(dir.resolve("own"), new byte[10]);
        assertTrue(waits());
        assertTrue(waits("--append", "console=ttyS0"));
        assertFalse(waits("--append", "console=ttyS0 rdinit=/bin/sh"));
        assertFalse(waits("--initrd", own.toString()));
        assertFalse(waits("--initrd", "none"));
        assertFalse(waits("--kernel", own.toString()));
        assertFalse(waits("--kernel", own.toString(), "--firmware", "none"));
        assertTrue(waits("--kernel", image.kernel().toString().replace("vmlinuz", "./vmlinuz"), "--initrd", image.initrd().toString()));
    }

    private boolean waits(String... args) throws Exception {
        CommandLine cl = Main.commandLine(images);
        cl.parseArgs(prepend("run", args));
        RunCommand run = cl.getSubcommands().get("run").getCommand();
        return run.waitsForShell(run.resolve(new PrintStream(PrintStream.nullOutputStream())));
    }

    @Test
    void validationErrorsAreParameterErrors() {
        assertThrows(Main.BadValueException.class, () -> spec("--cpus", "0"));
    }

    // ---- visor image

    @Test
    void imageInfo() {
        Result r = run("image", "info");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().contains("6.12.99+deb13-riscv64"), r.out());
        assertTrue(r.out().contains(image.kernel().toString()), r.out());
        assertTrue(r.out().contains("4.0 KiB"), r.out());
        assertTrue(r.out().contains(image.firmware().toString()), r.out());
        assertTrue(r.out().contains("/cache/visor"), r.out());
        assertEquals(0, images.pulls, "info never downloads");
    }

    @Test
    void imageInfoWhenNothingIsCached() {
        images.cached = false;
        assertOneLine(run("image", "info"), 1,
                "visor: no image cached in /cache/visor yet: 'visor image pull' or 'visor run' gets it");
        Result list = run("image", "list");
        assertEquals(0, list.status());
        assertEquals("", list.out());
        assertEquals(0, images.pulls);
    }

    @Test
    void imageListAndPull() {
        Result list = run("image", "list");
        assertEquals(0, list.status(), list.err());
        assertTrue(list.out().lines().anyMatch(l -> l.startsWith("default") && l.contains("6.12.99+deb13-riscv64")), list.out());
        Result pull = run("image", "pull", "--force");
        assertEquals(0, pull.status(), pull.err());
        assertTrue(pull.out().contains("6.12.99+deb13-riscv64"), pull.out());
        assertEquals(1, images.pulls);
    }

    // ---- devices and disk images

    @Test
    void deviceOptionsReachTheSpec() throws Exception {
        Path disk = Files.write(dir.resolve("d.raw"), new byte[1 << 20]);
        VmSpec s = spec("--disk", disk + ",format=raw,readonly=on", "--disk", disk.toString(),
                "--net", "user,hostfwd=tcp:127.0.0.1:8022-:22", "--net", "switch:/tmp/sw", "--no-rng", "--balloon",
                "--control", "/tmp/ctl");
        VmSpec.Devices d = s.devices();
        assertEquals(new dev.visor.vmm.DiskSpec(disk, "raw", true), d.disks().get(0));
        assertEquals(new dev.visor.vmm.DiskSpec(disk, null, false), d.disks().get(1));
        assertEquals(dev.visor.vmm.NetSpec.Kind.USER, d.nets().get(0).kind());
        assertEquals("hostfwd=tcp:127.0.0.1:8022-:22", d.nets().get(0).target());
        assertEquals(dev.visor.vmm.NetSpec.Kind.SWITCH, d.nets().get(1).kind());
        assertEquals("/tmp/sw", d.nets().get(1).target());
        assertFalse(d.rng());
        assertTrue(d.balloon());
        assertEquals(Path.of("/tmp/ctl"), d.controlSocket());
        assertTrue(spec("--net", "none").devices().nets().isEmpty());
    }

    @Test
    void badDeviceOptionsAreOneLineBeforeAnyPull() {
        assertOneLine(run("run", "--disk", "/no/disk.qcow2"), 1, "visor: --disk /no/disk.qcow2: no such file");
        assertOneLine(run("run", "--disk", dir + ",format=vmdk"), 2,
                "visor: --disk " + dir + ",format=vmdk: format must be raw or qcow2, not 'vmdk'");
        assertOneLine(run("run", "--net", "bogus"), 2,
                "visor: --net bogus: expected user[,hostfwd=...], switch:PATH or tap:NAME");
        assertOneLine(run("run", "--net", "user,mac=01:00:00:00:00:01"), 2,
                "visor: --net user,mac=01:00:00:00:00:01: 01:00:00:00:00:01 is a multicast address");
        assertOneLine(run("run", "--net", "none", "--net", "user"), 2,
                "visor: --net none cannot be combined with other --net options");
        assertEquals(0, images.pulls);
    }

    @Test
    void diskImagesAreCreatedDescribedGrownAndConverted() throws Exception {
        Path q = dir.resolve("a.qcow2");
        Result c = run("image", "create", q.toString(), "64M");
        assertEquals(0, c.status(), c.err());
        Result info = run("image", "info", q.toString());
        assertEquals(0, info.status(), info.err());
        assertTrue(info.out().contains("qcow2"), info.out());
        assertTrue(info.out().contains("67108864"), info.out());
        assertEquals(0, run("image", "resize", q.toString(), "+64M").status());
        assertEquals(128L << 20, dev.visor.block.BlockImages.info(q).virtualSize());
        Path overlay = dir.resolve("b.qcow2");
        assertEquals(0, run("image", "create", "-b", q.toString(), overlay.toString()).status());
        assertEquals(q.toString(), dev.visor.block.BlockImages.info(overlay).backingFile());
        Path raw = dir.resolve("b.raw");
        Result conv = run("image", "convert", "-O", "raw", overlay.toString(), raw.toString());
        assertEquals(0, conv.status(), conv.err());
        assertEquals(128L << 20, Files.size(raw));
        assertOneLine(run("image", "create", q.toString(), "1M"), 1,
                "visor: " + q + " already exists: remove it first or pick another name");
        assertOneLine(run("image", "resize", q.toString(), "1M"), 1,
                "visor: shrinking is not supported: " + q + " is 128M");
        Path junk = Files.write(dir.resolve("junk.qcow2"), "QFI\u00fbnot really".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        Result bad = run("image", "info", junk.toString());
        assertEquals(1, bad.status());
        assertEquals(1, bad.errLines().length, bad.err());
    }
}
