package dev.visor.cli;

import dev.visor.vmm.Sizes;
import dev.visor.images.GuestImage;
import dev.visor.images.ImageException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;

/** {@code visor image}: the guest images cached in ~/.cache/visor (for now: the default Debian one). */
@Command(name = "image",
        footer = {"", "Images are kept in $VISOR_CACHE, else $XDG_CACHE_HOME/visor, else ~/.cache/visor."},
        mixinStandardHelpOptions = true,
        description = "Manage the guest image (Debian's riscv64 kernel, initramfs and OpenSBI) and disk images (raw, qcow2).",
        synopsisSubcommandLabel = "COMMAND",
        subcommands = {ImageCommand.Pull.class, ImageCommand.ListImages.class, ImageCommand.Info.class,
                DiskImageCommands.Create.class, DiskImageCommands.Convert.class, DiskImageCommands.Resize.class},
        usageHelpAutoWidth = true)
final class ImageCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        CommandLine cl = spec.commandLine();
        cl.usage(cl.getErr());
        return cl.getCommandSpec().exitCodeOnInvalidInput();
    }

    @Command(name = "pull", mixinStandardHelpOptions = true,
            description = "Download the default image from Debian's archive (as the host's apt does) unless it is cached.")
    static final class Pull implements Callable<Integer> {
        @Option(names = {"-f", "--force"}, description = "Download it again even if it is cached.")
        boolean force;

        @Spec
        CommandSpec spec;

        private final Images images;

        Pull(Images images) { this.images = images; }

        @Override
        public Integer call() throws ImageException {
            GuestImage image = images.pull(System.err, force);
            describe(spec.commandLine().getOut(), image, images);
            return 0;
        }
    }

    @Command(name = "list", aliases = "ls", mixinStandardHelpOptions = true, description = "List the cached images.")
    static final class ListImages implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        private final Images images;

        ListImages(Images images) { this.images = images; }

        @Override
        public Integer call() throws ImageException {
            PrintWriter out = spec.commandLine().getOut();
            Optional<GuestImage> cached = images.cached();
            if (cached.isEmpty()) {
                spec.commandLine().getErr().println("visor: no image cached in " + images.cacheDirectory()
                        + " yet: 'visor image pull' or 'visor run' gets it");
                return 0;
            }
            GuestImage image = cached.get();
            String version = image.kernelVersion();
            int w = Math.max("KERNEL".length(), version.length());
            out.printf("%-8s  %-" + w + "s  %s%n", "NAME", "KERNEL", "SIZE");
            out.printf("%-8s  %-" + w + "s  %s%n", "default", version,
                    Sizes.human(size(image.kernel()) + size(image.initrd()) + size(image.firmware())));
            out.flush();
            return 0;
        }
    }

    @Command(name = "info", mixinStandardHelpOptions = true,
            description = "Show a disk image's format, sizes and backing file; without FILE, the cached default guest image.")
    static final class Info implements Callable<Integer> {
        @picocli.CommandLine.Parameters(index = "0", arity = "0..1", paramLabel = "FILE", description = "A disk image (raw or qcow2).")
        Path file;

        @Spec
        CommandSpec spec;

        private final Images images;

        Info(Images images) { this.images = images; }

        @Override
        public Integer call() throws ImageException, CliException, IOException {
            if (file != null) {
                DiskImageCommands.describe(spec, file);
                return 0;
            }
            GuestImage image = images.cached()
                    .orElseThrow(() -> new CliException("no image cached in " + images.cacheDirectory()
                            + " yet: 'visor image pull' or 'visor run' gets it"));
            describe(spec.commandLine().getOut(), image, images);
            return 0;
        }
    }

    static void describe(PrintWriter out, GuestImage image, Images images) {
        out.println("default image: Debian riscv64, kernel " + image.kernelVersion());
        out.printf("  %-9s %s%n", "cache", images.cacheDirectory());
        line(out, "kernel", image.kernel());
        line(out, "initrd", image.initrd());
        line(out, "firmware", image.firmware());
        out.flush();
    }

    private static void line(PrintWriter out, String what, Path p) {
        if (p == null) {
            out.printf("  %-9s (none)%n", what);
            return;
        }
        String size = Files.isRegularFile(p) ? Sizes.human(size(p)) : "missing";
        out.printf("  %-9s %s  (%s)%n", what, p, size);
    }

    private static long size(Path p) {
        try {
            return p == null ? 0 : Files.size(p);
        } catch (IOException e) {
            return 0;
        }
    }
}
