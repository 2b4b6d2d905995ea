package dev.visor.images;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.zip.GZIPOutputStream;

/**
 * Builds the guest's initramfs: a gzip-compressed cpio "newc" archive holding a static busybox,
 * kernel modules, a {@code /dev/console} node, a udhcpc event script and an {@code /init} script.
 *
 * <p>The {@code /init} script installs the busybox applets, mounts proc, sysfs and devtmpfs,
 * {@code insmod}s the modules given here (in the order given, failures logged to
 * {@code /tmp/insmod.log}), mounts the block device named by {@value #DATA_DISK_OPTION}{@code <dev>}
 * on the kernel command line at {@code /mnt} if there is one, starts {@code udhcpc} on
 * {@code eth0} in the background if that interface exists, prints {@value #READY_MARKER} and
 * {@code exec}s {@code setsid cttyhack sh} on the console.
 *
 * <p>The output depends only on the inputs (fixed times, owners and inode numbers, fixed gzip
 * header), so building twice gives identical bytes.
 *
 * <pre>
 *   new InitramfsBuilder(busyboxElf)
 *       .module("virtio_mmio", ko)            // decompressed .ko, in load order
 *       .writeTo(Path.of("initrd.gz"));
 * </pre>
 */
public final class InitramfsBuilder {
    /** The line {@code /init} prints right before it starts the shell. */
    public static final String READY_MARKER = "visor: shell ready";

    /**
     * The kernel command-line option that makes {@code /init} mount a block device at
     * {@code /mnt}: {@code visor.data=/dev/vda} (or just {@code vda}).
     */
    public static final String DATA_DISK_OPTION = "visor.data=";

    /** Where {@code /init} tells udhcpc to find its event script. */
    public static final String UDHCPC_SCRIPT = "etc/udhcpc/default.script";

    // Directories of the guest's root, with their modes (tmp is sticky, root is private).
    private static final Map<String, Integer> DIRECTORIES = directories();

    private final byte[] busybox;
    private final Map<String, byte[]> modules = new LinkedHashMap<>();
    private final Map<String, ExtraFile> extraFiles = new LinkedHashMap<>();

    private record ExtraFile(int permissions, byte[] content) {}

    /** Starts an initramfs around {@code busybox}, a static RISC-V busybox executable. */
    public InitramfsBuilder(byte[] busybox) {
        this.busybox = Objects.requireNonNull(busybox).clone();
    }

    /**
     * Adds a kernel module as {@code /lib/modules/<name>.ko}; {@code ko} is the plain ELF (not
     * xz). Modules load in the order they are added, so add dependencies first.
     */
    public InitramfsBuilder module(String name, byte[] ko) {
        if (name.isEmpty() || name.contains("/") || name.endsWith(".ko")) {
            throw new IllegalArgumentException("module name must be bare, like virtio_mmio: " + name);
        }
        modules.put(name, ko.clone());
        return this;
    }

    /** Adds another file (e.g. {@code "etc/hostname"}); missing parent directories are created 0755. */
    public InitramfsBuilder file(String path, int permissions, byte[] content) {
        extraFiles.put(path.startsWith("/") ? path.substring(1) : path, new ExtraFile(permissions, content.clone()));
        return this;
    }

    /** The module names in load order. */
    public List<String> modules() {
        return List.copyOf(modules.keySet());
    }

    /** The {@code /init} script this builder writes. */
    public String initScript() {
        String modulesList = modules.isEmpty() ? "" : String.join(" ", modules.keySet());
        // With no modules the loop would iterate over an empty word list, which sh handles fine.
        return resource("init.sh").replace("@MODULES@", modulesList);
    }

    /** The udhcpc event script: sets address, default route and resolv.conf with busybox {@code ip}. */
    public static String udhcpcScript() {
        return resource("udhcpc.script");
    }

    /** Writes the gzip-compressed archive to {@code file}, replacing it. */
    public void writeTo(Path file) throws IOException {
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 16)) {
            writeTo(out);
        }
    }

    /** Writes the gzip-compressed archive to {@code out} and finishes the gzip stream; does not close {@code out}. */
    public void writeTo(OutputStream out) throws IOException {
        // GZIPOutputStream writes a fixed header (no name, mtime 0), which keeps the output reproducible.
        GZIPOutputStream gzip = new GZIPOutputStream(out, 1 << 16);
        CpioWriter cpio = new CpioWriter(gzip);
        writeEntries(cpio);
        cpio.finish();
        gzip.finish();
        out.flush();
    }

    private void writeEntries(CpioWriter cpio) throws IOException {
        Set<String> dirs = new LinkedHashSet<>();
        for (var dir : DIRECTORIES.entrySet()) {
            cpio.directory(dir.getKey(), dir.getValue());
            dirs.add(dir.getKey());
        }
        // The kernel opens /dev/console before /init runs; without the node there is no early
        // console (devtmpfs is mounted only later, by /init).
        cpio.charDevice("dev/console", 0600, 5, 1);
        cpio.file("bin/busybox", 0755, busybox);
        for (var module : modules.entrySet()) {
            cpio.file("lib/modules/" + module.getKey() + ".ko", 0644, module.getValue());
        }
        cpio.file(UDHCPC_SCRIPT, 0755, udhcpcScript().getBytes(StandardCharsets.UTF_8));
        for (var extra : extraFiles.entrySet()) {
            for (String parent : parents(extra.getKey())) {
                if (dirs.add(parent)) cpio.directory(parent, 0755);
            }
            cpio.file(extra.getKey(), extra.getValue().permissions(), extra.getValue().content());
        }
        cpio.file("init", 0755, initScript().getBytes(StandardCharsets.UTF_8));
    }

    private static List<String> parents(String path) {
        List<String> parents = new ArrayList<>();
        for (int slash = path.indexOf('/'); slash > 0; slash = path.indexOf('/', slash + 1)) {
            parents.add(path.substring(0, slash));
        }
        return parents;
    }

    private static Map<String, Integer> directories() {
        Map<String, Integer> dirs = new LinkedHashMap<>();
        dirs.put("bin", 0755);
        dirs.put("sbin", 0755);
        dirs.put("proc", 0555);
        dirs.put("sys", 0555);
        dirs.put("dev", 0755);
        dirs.put("lib", 0755);
        dirs.put("lib/modules", 0755);
        dirs.put("etc", 0755);
        dirs.put("etc/udhcpc", 0755);
        dirs.put("tmp", 01777);
        dirs.put("root", 0700);
        dirs.put("mnt", 0755);
        return dirs;
    }

    private static String resource(String name) {
        try (InputStream in = InitramfsBuilder.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("missing resource dev/visor/images/" + name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
