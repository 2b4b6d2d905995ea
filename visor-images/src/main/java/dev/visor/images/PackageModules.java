package dev.visor.images;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The kernel modules of one linux-image package, gathered during the single pass over the package
 * ({@link #accept}) and resolved after it ({@link #resolve}).
 *
 * <p>Which modules are needed is known only once their dependencies are read, and the package is
 * one xz stream that can only be read from the start. So every module's file is spooled, still
 * compressed, into a work directory (Debian's 6.12 riscv64 package: about 3,100 modules, 100 MB),
 * and only the ones the guest loads are decompressed. Not thread-safe.
 */
final class PackageModules {
    /** A module loaded in the guest: its file stem ({@code virtio-rng}) and plain ELF bytes. */
    record Module(String stem, byte[] ko) {}

    /** A module as found in the package. */
    private record Spooled(String packagePath, String stem, Path file) {}

    private final Path spool;
    /** By canonical name. */
    private final Map<String, Spooled> modules = new HashMap<>();
    /** Canonical names from {@code modules.builtin}. */
    private final Set<String> builtin = new HashSet<>();
    private final Set<String> versions = new HashSet<>();
    /** Decompressed modules, by canonical name, so a module read for its dependencies is not read again. */
    private final Map<String, byte[]> plain = new HashMap<>();
    private Map<String, List<String>> modulesDep; // null: the package has none

    /** Spools into {@code spool}, which must exist and be empty. */
    PackageModules(Path spool) {
        this.spool = spool;
    }

    /**
     * Takes the package file if it is a module, {@code modules.dep} or {@code modules.builtin};
     * returns false (and reads nothing) otherwise.
     */
    boolean accept(String path, InputStream content) throws IOException {
        Optional<String> stem = KernelModules.moduleStem(path);
        if (stem.isPresent()) {
            String name = KernelModules.canonical(stem.get());
            // Module names are unique in a kernel build; keep the first should a package repeat one.
            if (!modules.containsKey(name)) {
                Path file = spool.resolve(name + (path.endsWith(".xz") ? ".ko.xz" : ".ko"));
                Files.copy(content, file);
                modules.put(name, new Spooled(path, stem.get(), file));
            }
        } else if (isModulesFile(path, "modules.dep")) {
            modulesDep = KernelModules.parseModulesDep(new String(content.readAllBytes(), StandardCharsets.UTF_8));
        } else if (isModulesFile(path, "modules.builtin")) {
            for (String line : new String(content.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                // "kernel/drivers/char/virtio_console.ko"
                KernelModules.moduleStem("lib/modules/v/" + line.strip())
                        .ifPresent(s -> builtin.add(KernelModules.canonical(s)));
            }
        } else {
            return false;
        }
        KernelModules.versionOf(path).ifPresent(versions::add);
        return true;
    }

    /** The kernel versions the accepted files belong to (one, in a sound package). */
    Set<String> versions() {
        return versions;
    }

    /** Where the dependencies come from: the package's {@code modules.dep}, else each module's {@code .modinfo}. */
    String dependencySource() {
        return modulesDep != null ? "modules.dep" : ".modinfo depends=";
    }

    /** True if {@code name} is compiled into the kernel, as the package's {@code modules.builtin} says. */
    boolean isBuiltin(String name) {
        return builtin.contains(KernelModules.canonical(name));
    }

    /** {@code wanted} and everything it needs, in load order ({@link KernelModules#loadOrder}). */
    List<Module> resolve(List<String> wanted) throws IOException {
        List<Module> order = new ArrayList<>();
        for (String name : KernelModules.loadOrder(wanted, this::dependencies)) {
            order.add(new Module(modules.get(name).stem(), plain(name)));
        }
        return order;
    }

    private Optional<List<String>> dependencies(String name) throws IOException {
        if (!modules.containsKey(name)) return Optional.empty();
        if (modulesDep != null) return Optional.of(modulesDep.getOrDefault(name, List.of()));
        try {
            return Optional.of(KernelModules.modinfoDepends(plain(name)));
        } catch (ImageException e) {
            throw new ImageException(modules.get(name).packagePath() + ": " + e.getMessage(), e);
        }
    }

    private byte[] plain(String name) throws IOException {
        byte[] ko = plain.get(name);
        if (ko == null) {
            Spooled module = modules.get(name);
            try (InputStream in = Files.newInputStream(module.file())) {
                ko = KernelModules.readModule(module.packagePath(), in);
            }
            plain.put(name, ko);
        }
        return ko;
    }

    /** True for {@code usr/lib/modules/<version>/<name>} (or without {@code usr/}). */
    private static boolean isModulesFile(String path, String name) {
        String rest = path.startsWith("usr/") ? path.substring(4) : path;
        return rest.startsWith("lib/modules/") && rest.endsWith("/" + name) && rest.chars().filter(c -> c == '/').count() == 3;
    }
}
