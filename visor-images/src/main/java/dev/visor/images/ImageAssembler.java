package dev.visor.images;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Builds the default guest image into an empty directory from Debian's packages: the kernel, the
 * OpenSBI firmware, the decompressed kernel modules the guest needs ({@link KernelModules#WANTED}
 * and their dependencies) and an initramfs around busybox. It checks
 * what it takes (kernel format, busybox architecture, one kernel version) so a wrong package
 * fails the pull instead of the boot.
 */
final class ImageAssembler {
    static final String KERNEL_METAPACKAGE = "linux-image-riscv64";
    static final String BUSYBOX_PACKAGE = "busybox-static";
    static final String OPENSBI_PACKAGE = "opensbi";
    static final String OPENSBI_DIR = "usr/lib/riscv64-linux-gnu/opensbi/generic/";

    /** Offset and value of the RISC-V Image header's magic ("RSC\x05"). */
    static final int IMAGE_MAGIC_OFFSET = 0x38;
    static final byte[] IMAGE_MAGIC = {'R', 'S', 'C', 0x05};

    private final DebianArchive archive;
    private final PrintStream progress;

    ImageAssembler(DebianArchive archive, PrintStream progress) {
        this.archive = archive;
        this.progress = progress;
    }

    /**
     * Fills {@code target} (which must exist) with the image files, using {@code work} for the
     * downloads. Returns the kernel version.
     */
    String assemble(Path target, Path work) throws IOException {
        archive.update();
        String kernelPackage = archive.firstDependency(KERNEL_METAPACKAGE);
        Map<String, Path> debs = archive.download(work.resolve("debs"),
                List.of(kernelPackage, BUSYBOX_PACKAGE, OPENSBI_PACKAGE));

        progress.println("visor: unpacking " + kernelPackage);
        Kernel kernel = extractKernel(new DebPackage(debs.get(kernelPackage)), target,
                Files.createDirectories(work.resolve("modules-spool")));
        byte[] busybox = extractBusybox(new DebPackage(debs.get(BUSYBOX_PACKAGE)));
        extractFirmware(new DebPackage(debs.get(OPENSBI_PACKAGE)), target);

        Path modulesDir = Files.createDirectories(target.resolve(ImageStore.MODULES));
        InitramfsBuilder initramfs = new InitramfsBuilder(busybox);
        List<PackageModules.Module> modules = kernel.modules().resolve(KernelModules.WANTED);
        for (PackageModules.Module module : modules) {
            Files.write(modulesDir.resolve(module.stem() + ".ko"), module.ko());
            initramfs.module(module.stem(), module.ko());
        }
        for (String name : KernelModules.missing(KernelModules.WANTED,
                modules.stream().map(m -> KernelModules.canonical(m.stem())).toList())) {
            // Not fatal: this or a later kernel may build the driver in, or drop it.
            String why = kernel.modules().isBuiltin(name) ? "built into the kernel" : "not in the package";
            progress.println("visor: module " + name + " is " + why + "; skipped");
        }
        progress.println("visor: kernel modules in load order (dependencies from "
                + kernel.modules().dependencySource() + "): " + String.join(" ", initramfs.modules()));
        progress.println("visor: building the initramfs (busybox, " + initramfs.modules().size() + " modules)");
        initramfs.writeTo(target.resolve(ImageStore.INITRD));

        Files.writeString(target.resolve(ImageStore.VERSION),
                versionFile(kernel.version(), debs, initramfs.modules()), StandardCharsets.UTF_8);
        return kernel.version();
    }

    private record Kernel(String version, PackageModules modules) {}

    /**
     * One pass over the (large) kernel package: the Image to disk, the modules and their
     * bookkeeping files to {@code spool} (see {@link PackageModules}).
     */
    private Kernel extractKernel(DebPackage deb, Path target, Path spool) throws IOException {
        List<String> kernels = new ArrayList<>();
        PackageModules modules = new PackageModules(spool);
        Path image = target.resolve(ImageStore.KERNEL);
        deb.forEachFile(path -> true, (path, size, in) -> {
            if (path.startsWith("boot/vmlinux-")) {
                kernels.add(path);
                Files.copy(in, image, StandardCopyOption.REPLACE_EXISTING);
            } else {
                modules.accept(path, in);
            }
        });
        if (kernels.size() != 1) {
            throw new ImageException(deb.file().getFileName() + " holds " + kernels.size()
                    + " kernels (boot/vmlinux-*) where Visor expects exactly one: " + kernels);
        }
        String version = kernels.getFirst().substring("boot/vmlinux-".length());
        Set<String> versions = new HashSet<>(modules.versions());
        versions.add(version);
        if (versions.size() != 1) {
            throw new ImageException(deb.file().getFileName() + " mixes kernel versions " + versions
                    + "; the modules would not load");
        }
        checkImageMagic(image, kernels.getFirst());
        return new Kernel(version, modules);
    }

    /** Refuses a kernel that is not in RISC-V Image format (the VMM loads it raw). */
    static void checkImageMagic(Path image, String name) throws IOException {
        byte[] magic = new byte[IMAGE_MAGIC.length];
        try (InputStream in = Files.newInputStream(image)) {
            in.skipNBytes(IMAGE_MAGIC_OFFSET);
            if (in.readNBytes(magic, 0, magic.length) != magic.length
                    || !Arrays.equals(magic, IMAGE_MAGIC)) {
                throw new ImageException(name + " is not a RISC-V Image (no \"RSC\\x05\" magic at 0x38); refusing it");
            }
        } catch (EOFException e) {
            throw new ImageException(name + " is too short to be a RISC-V Image; refusing it");
        }
    }

    private static byte[] extractBusybox(DebPackage deb) throws IOException {
        Map<String, byte[]> found = deb.readFiles(p -> p.equals("usr/bin/busybox") || p.equals("bin/busybox"));
        if (found.isEmpty()) throw new ImageException(deb.file().getFileName() + " has no busybox executable");
        byte[] busybox = found.values().iterator().next();
        if (!Elf.isRiscv64(busybox)) {
            throw new ImageException(deb.file().getFileName() + ": busybox is not a 64-bit RISC-V ELF (e_machine "
                    + Elf.machine(busybox) + ")");
        }
        return busybox;
    }

    private static void extractFirmware(DebPackage deb, Path target) throws IOException {
        Map<String, byte[]> found = deb.readFiles(p -> p.equals(OPENSBI_DIR + ImageStore.FW_JUMP)
                || p.equals(OPENSBI_DIR + ImageStore.FW_DYNAMIC));
        for (String name : List.of(ImageStore.FW_JUMP, ImageStore.FW_DYNAMIC)) {
            byte[] firmware = found.get(OPENSBI_DIR + name);
            if (firmware == null) {
                throw new ImageException(deb.file().getFileName() + " has no " + OPENSBI_DIR + name);
            }
            Files.write(target.resolve(name), firmware);
        }
    }

    /**
     * The VERSION file: the kernel version on the first line (what {@link GuestImage#kernelVersion()}
     * reports), then the store layout and where everything came from. No dates, so a re-pull of the
     * same packages writes the same file.
     */
    private String versionFile(String kernelVersion, Map<String, Path> debs, List<String> modules) throws IOException {
        StringBuilder text = new StringBuilder(kernelVersion).append('\n');
        text.append("layout ").append(ImageStore.LAYOUT).append('\n');
        text.append("suite ").append(DebianArchive.SUITE).append(' ').append(DebianArchive.ARCHITECTURE).append('\n');
        text.append("mirror ").append(archive.mirror()).append('\n');
        for (var deb : debs.entrySet()) {
            String version = new DebPackage(deb.getValue()).control().getOrDefault("Version", "?");
            text.append("package ").append(deb.getKey()).append(' ').append(version).append('\n');
        }
        text.append("modules ").append(String.join(" ", modules)).append('\n');
        return text.toString();
    }
}
