package dev.visor.images;

import org.tukaani.xz.XZInputStream;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Optional;

/**
 * Which kernel modules the guest needs and how to find them in a Debian linux-image package.
 * Debian ships modules as {@code usr/lib/modules/<version>/kernel/<subsystem>/<name>.ko.xz}; the
 * guest's busybox {@code insmod} takes plain ELF, so they are decompressed on the host.
 */
final class KernelModules {
    /**
     * The virtio drivers that Debian's riscv64 kernel builds as modules, in an order that
     * {@code insmod} (which resolves no dependencies) can load them: virtio_net needs
     * net_failover, which needs failover. virtio-rng keeps its dash, as its file does.
     */
    static final List<String> VIRTIO = List.of(
            "virtio_mmio", "virtio_blk", "failover", "net_failover", "virtio_net", "virtio-rng", "virtio_balloon");

    private KernelModules() {}

    /**
     * The module name (as listed in {@link #VIRTIO}) if {@code path} is one of those modules below
     * {@code usr/lib/modules/<version>/kernel/}, plain or xz-compressed.
     */
    static Optional<String> virtioModule(String path) {
        if (!path.startsWith("usr/lib/modules/") && !path.startsWith("lib/modules/")) return Optional.empty();
        if (!path.contains("/kernel/")) return Optional.empty();
        String file = path.substring(path.lastIndexOf('/') + 1);
        String stem = file.endsWith(".ko.xz") ? file.substring(0, file.length() - 6)
                : file.endsWith(".ko") ? file.substring(0, file.length() - 3) : null;
        if (stem == null) return Optional.empty();
        // The kernel treats '-' and '_' in module names alike; so do we, and report our spelling.
        String key = stem.replace('-', '_');
        return VIRTIO.stream().filter(m -> m.replace('-', '_').equals(key)).findFirst();
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
}
