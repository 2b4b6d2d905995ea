package dev.visor.cli;

import dev.visor.vmm.Sizes;
import dev.visor.block.BlockImages;
import dev.visor.block.ImageInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code visor image create|convert|resize} and {@code visor image info FILE}: disk images (raw and
 * qcow2) made and changed in Java, interchangeable with {@code qemu-img}'s.
 */
final class DiskImageCommands {
    private DiskImageCommands() {}

    static final String FORMATS = "raw or qcow2";

    @Command(name = "create", mixinStandardHelpOptions = true,
            description = "Create a disk image: raw (sparse) or qcow2 (version 3, 64 KiB clusters), "
                    + "optionally a qcow2 overlay on a backing file.",
            footer = {"", "Examples:", "  visor image create disk.qcow2 10G",
                "  visor image create -b base.qcow2 overlay.qcow2      (size: the backing file's)"},
            usageHelpAutoWidth = true)
    static final class Create implements Callable<Integer> {
        @Option(names = {"-f", "--format"}, defaultValue = "qcow2", description = FORMATS + " (default: ${DEFAULT-VALUE}).")
        String format;

        @Option(names = {"-b", "--backing"}, paramLabel = "FILE", description = "Backing file (qcow2 only): the new image starts as its copy-on-write overlay.")
        Path backing;

        @Option(names = {"-F", "--backing-format"}, paramLabel = "FMT", description = "The backing file's format (default: detected).")
        String backingFormat;

        @Parameters(index = "0", paramLabel = "FILE") Path file;

        @Parameters(index = "1", paramLabel = "SIZE", arity = "0..1", description = "Virtual size, e.g. 10G (optional with --backing).")
        String size;

        @Spec CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            checkFormat(spec, format);
            if (backing != null && !format.equals("qcow2")) throw new Main.BadValueException(spec.commandLine(), "--backing needs --format qcow2");
            if (size == null && backing == null) throw new Main.BadValueException(spec.commandLine(), "give a SIZE (e.g. 10G) or a --backing file");
            if (Files.exists(file)) throw new CliException(file + " already exists: remove it first or pick another name");
            long bytes = size == null ? -1 : parseSize(spec, size);
            if (backing != null && !Files.isRegularFile(backing)) throw new CliException("--backing " + backing + ": no such file");
            BlockImages.create(file, format, bytes, backing, backingFormat);
            ImageInfo info = BlockImages.info(file);
            spec.commandLine().getOut().println("created " + file + ": " + format + ", " + Sizes.human(info.virtualSize())
                    + (backing != null ? ", backing " + backing : ""));
            spec.commandLine().getOut().flush();
            return 0;
        }
    }

    @Command(name = "convert", mixinStandardHelpOptions = true,
            description = "Copy a disk image into a new file of another format (reads through backing files; "
                    + "zero clusters are left out, so the copy is sparse).",
            usageHelpAutoWidth = true)
    static final class Convert implements Callable<Integer> {
        @Option(names = {"-O", "--output-format"}, defaultValue = "qcow2", description = FORMATS + " (default: ${DEFAULT-VALUE}).")
        String format;

        @Option(names = {"-f", "--format"}, paramLabel = "FMT", description = "The source's format (default: detected).")
        String sourceFormat;

        @Parameters(index = "0", paramLabel = "SOURCE") Path source;
        @Parameters(index = "1", paramLabel = "TARGET") Path target;

        @Spec CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            checkFormat(spec, format);
            if (!Files.isRegularFile(source)) throw new CliException(source + ": no such file");
            if (Files.exists(target)) throw new CliException(target + " already exists: remove it first or pick another name");
            long total = BlockImages.info(source).virtualSize();
            PrintStream err = System.err;
            Progress progress = new Progress(err, "converting " + source.getFileName(), total);
            try {
                BlockImages.convert(source, sourceFormat, target, format, progress::update);
            } catch (IOException | RuntimeException e) {
                Files.deleteIfExists(target); // no half-written image left behind
                throw e;
            }
            progress.done();
            return 0;
        }
    }

    @Command(name = "resize", mixinStandardHelpOptions = true,
            description = "Grow a disk image (of a VM that is not running; for a running VM use 'visor control SOCKET resize').",
            usageHelpAutoWidth = true)
    static final class Resize implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "FILE") Path file;
        @Parameters(index = "1", paramLabel = "SIZE", description = "New size (e.g. 20G) or +SIZE to grow by.") String size;

        @Spec CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            if (!Files.isRegularFile(file)) throw new CliException(file + ": no such file");
            long old = BlockImages.info(file).virtualSize();
            long bytes = size.startsWith("+") ? old + parseSize(spec, size.substring(1)) : parseSize(spec, size);
            if (bytes < old) throw new CliException("shrinking is not supported: " + file + " is " + Sizes.exact(old));
            BlockImages.resize(file, bytes);
            spec.commandLine().getOut().println(file + ": " + Sizes.human(old) + " -> " + Sizes.human(bytes));
            spec.commandLine().getOut().flush();
            return 0;
        }
    }

    static void describe(CommandSpec spec, Path file) throws IOException, CliException {
        if (!Files.isRegularFile(file)) throw new CliException(file + ": no such file");
        spec.commandLine().getOut().print(BlockImages.info(file).describe());
        spec.commandLine().getOut().flush();
    }

    private static void checkFormat(CommandSpec spec, String format) {
        if (!format.equals("raw") && !format.equals("qcow2")) {
            throw new Main.BadValueException(spec.commandLine(), "format must be " + FORMATS + ", not '" + format + "'");
        }
    }

    private static long parseSize(CommandSpec spec, String text) {
        try {
            long v = Sizes.parse(text);
            if (v % 512 != 0) v = (v + 511) / 512 * 512; // as qemu-img: whole sectors
            return v;
        } catch (IllegalArgumentException e) {
            throw new Main.BadValueException(spec.commandLine(), "SIZE: " + e.getMessage());
        }
    }

    /** A one-line progress display on stderr, redrawn at most every 200 ms. */
    static final class Progress {
        private final PrintStream err;
        private final String what;
        private final long total;
        private long last;

        Progress(PrintStream err, String what, long total) {
            this.err = err;
            this.what = what;
            this.total = Math.max(1, total);
        }

        void update(long done) {
            long now = System.nanoTime();
            if (now - last < 200_000_000L) return;
            last = now;
            err.printf("\r%s: %3d%% (%s of %s)", what, done * 100 / total, Sizes.human(done), Sizes.human(total));
            err.flush();
        }

        void done() {
            err.printf("\r%s: 100%% (%s)%n", what, Sizes.human(total));
            err.flush();
        }
    }
}
