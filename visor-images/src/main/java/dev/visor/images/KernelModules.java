package dev.visor.images;

import org.tukaani.xz.XZInputStream;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Which kernel modules the guest needs, how to find them in a Debian linux-image package and in
 * which order busybox's {@code insmod} (which resolves nothing itself) must load them.
 *
 * <p>Debian ships modules as {@code usr/lib/modules/<version>/kernel/<subsystem>/<name>.ko.xz}; the
 * guest's {@code insmod} takes plain ELF, so they are decompressed on the host. The dependencies
 * come from the kernel's own data: {@code modules.dep} if the package has one, otherwise each
 * module's {@code .modinfo} {@code depends=} entry, which is what depmod would have written there.
 * (Debian's package has no {@code modules.dep}: its postinst runs depmod on the installed system.)
 *
 * <p>Module names are compared as the kernel does, with {@code -} and {@code _} alike
 * ({@link #canonical}); file names keep their own spelling ({@code virtio-rng.ko}).
 */
final class KernelModules {
    /**
     * The modules the guest asks for, roots of the dependency closure; order among unrelated ones
     * is kept. A root may be built in (then it is absent from the package and skipped): in Debian's
     * 6.12 riscv64 kernel virtio_console is. crc32c_generic is here by name because ext4 and jbd2
     * ask for it only through a soft dependency on an alias ({@code softdep=pre: crypto-crc32c}),
     * which neither modules.dep nor {@code depends=} records; without it mounting a file system
     * with metadata checksums (mke2fs's default) fails. It comes before ext4 so it is there first.
     */
    static final List<String> WANTED = List.of(
            "virtio_mmio", "virtio_blk", "virtio_net", "virtio-rng", "virtio_balloon", "virtio_console",
            "crc32c_generic", "ext4");

    /** Where the dependencies of one module come from. */
    @FunctionalInterface
    interface Dependencies {
        /**
         * The modules {@code module} (canonical name) needs loaded first, or empty if the package
         * has no such module (built into the kernel, or not built at all).
         */
        Optional<List<String>> of(String module) throws IOException;
    }

    private KernelModules() {}

    /** The name as the kernel compares it: dashes as underscores ({@code virtio-rng} is {@code virtio_rng}). */
    static String canonical(String name) {
        return name.replace('-', '_');
    }

    /**
     * The module's file stem ({@code virtio-rng} for {@code .../virtio-rng.ko.xz}) if {@code path}
     * is a module below {@code usr/lib/modules/<version>/kernel/}, plain or xz-compressed.
     */
    static Optional<String> moduleStem(String path) {
        if (!path.startsWith("usr/lib/modules/") && !path.startsWith("lib/modules/")) return Optional.empty();
        if (!path.contains("/kernel/")) return Optional.empty();
        return stem(path.substring(path.lastIndexOf('/') + 1));
    }

    /** The kernel version a module path belongs to: {@code usr/lib/modules/<version>/...}. */
    static Optional<String> versionOf(String path) {
        String rest = path.startsWith("usr/") ? path.substring(4) : path;
        if (!rest.startsWith("lib/modules/")) return Optional.empty();
        rest = rest.substring("lib/modules/".length());
        int slash = rest.indexOf('/');
        return slash > 0 ? Optional.of(rest.substring(0, slash)) : Optional.empty();
    }

    /** The plain ELF module from a package file, decompressing {@code .ko.xz}. */
    static byte[] readModule(String path, InputStream content) throws IOException {
        byte[] data = content.readAllBytes();
        if (path.endsWith(".xz")) {
            try (InputStream xz = new XZInputStream(new ByteArrayInputStream(data))) {
                data = xz.readAllBytes();
            }
        }
        if (!Elf.isElf(data)) throw new ImageException(path + ": not an ELF kernel module after decompression");
        return data;
    }

    /**
     * Parses {@code modules.dep} ("{@code kernel/fs/ext4/ext4.ko.xz: kernel/lib/crc16.ko.xz
     * kernel/fs/jbd2/jbd2.ko.xz}", one module a line, its dependencies after the colon) into
     * canonical module name to canonical dependency names.
     */
    static Map<String, List<String>> parseModulesDep(String text) {
        Map<String, List<String>> deps = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            int colon = line.indexOf(':');
            if (line.isBlank() || line.startsWith("#") || colon <= 0) continue;
            Optional<String> module = stem(line.substring(line.lastIndexOf('/', colon) + 1, colon).strip());
            if (module.isEmpty()) continue;
            List<String> needs = new ArrayList<>();
            for (String dep : line.substring(colon + 1).strip().split("\\s+")) {
                if (dep.isEmpty()) continue;
                stem(dep.substring(dep.lastIndexOf('/') + 1)).ifPresent(s -> needs.add(canonical(s)));
            }
            deps.put(canonical(module.get()), List.copyOf(needs));
        }
        return deps;
    }

    /**
     * The {@code depends=} entry of a module's {@code .modinfo} section (NUL-separated
     * {@code key=value} strings), as canonical names; empty if the module depends on nothing.
     */
    static List<String> modinfoDepends(byte[] ko) throws ImageException {
        byte[] modinfo = Elf.section(ko, ".modinfo")
                .orElseThrow(() -> new ImageException("a kernel module has no readable .modinfo section"));
        for (String entry : new String(modinfo, StandardCharsets.UTF_8).split("\0")) {
            if (!entry.startsWith("depends=")) continue;
            String value = entry.substring("depends=".length()).strip();
            return value.isEmpty() ? List.of()
                    : Arrays.stream(value.split(",")).map(String::strip).filter(s -> !s.isEmpty())
                            .map(KernelModules::canonical).toList();
        }
        return List.of();
    }

    /**
     * The modules to load for {@code wanted} and everything they need, dependencies before the
     * modules that need them, each once; modules {@code dependencies} does not know (built in, or
     * missing) are left out. Canonical names. Fails on a dependency cycle, which the kernel's
     * build would have refused, so it means broken module data.
     */
    static List<String> loadOrder(List<String> wanted, Dependencies dependencies) throws IOException {
        Map<String, Optional<List<String>>> known = new HashMap<>();
        Set<String> done = new LinkedHashSet<>();
        for (String module : wanted) visit(canonical(module), dependencies, known, new LinkedHashSet<>(), done);
        return List.copyOf(done);
    }

    /** Depth first, a module after all of its dependencies; {@code path} is the chain being visited. */
    private static void visit(String module, Dependencies dependencies, Map<String, Optional<List<String>>> known,
                              LinkedHashSet<String> path, Set<String> done) throws IOException {
        if (done.contains(module)) return;
        if (!path.add(module)) {
            throw new ImageException("kernel modules depend on each other in a cycle: "
                    + String.join(" -> ", path) + " -> " + module);
        }
        Optional<List<String>> needs = known.get(module);
        if (needs == null) {
            needs = dependencies.of(module);
            known.put(module, needs);
        }
        if (needs.isPresent()) {
            for (String dep : needs.get()) visit(canonical(dep), dependencies, known, path, done);
            done.add(module);
        }
        path.remove(module);
    }

    /** The modules of {@code wanted} that {@code order} does not hold (built in or not in the package). */
    static List<String> missing(List<String> wanted, List<String> order) {
        Set<String> loaded = new HashSet<>(order);
        return wanted.stream().filter(m -> !loaded.contains(canonical(m))).toList();
    }

    private static Optional<String> stem(String file) {
        if (file.endsWith(".ko.xz")) return Optional.of(file.substring(0, file.length() - 6));
        if (file.endsWith(".ko")) return Optional.of(file.substring(0, file.length() - 3));
        return Optional.empty();
    }
}
