package dev.visor.daemon.images;

import dev.visor.block.BlockImages;
import dev.visor.block.ImageInfo;
import dev.visor.daemon.security.Labels;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The daemon's image store: one directory, the only place VM disks come from. Images are named,
 * never given as paths, so an API caller cannot point a VM at a host file ("/etc/shadow",
 * "../other-vm/disk") — a name that is not a plain file name in the store is refused.
 */
public final class ImageStore {
    /** A plain file name: no separators, no leading dot (hidden files hold labels), no "..". */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9._-]{0,127}");

    /** One image as the API lists it. */
    public record Image(String name, String format, long virtualSize, long fileSize, String backing, String label) {}

    private final Path dir;

    public ImageStore(Path dir) throws IOException {
        this.dir = dir.toAbsolutePath().normalize();
        Files.createDirectories(this.dir);
    }

    public Path dir() { return dir; }

    /** The path of image {@code name}; IllegalArgumentException when the name is not a plain name in the store. */
    public Path path(String name) {
        if (name == null || !NAME.matcher(name).matches() || name.contains("..")) {
            throw new IllegalArgumentException("'" + name + "' is not an image name in the store (a plain file name like data.qcow2; "
                    + "paths are not accepted)");
        }
        Path p = dir.resolve(name).normalize();
        if (!p.getParent().equals(dir)) throw new IllegalArgumentException("'" + name + "' is outside the image store");
        return p;
    }

    /** The existing image {@code name}; NoSuchFileException (one line) when it is not there. */
    public Path existing(String name) throws NoSuchFileException {
        Path p = path(name);
        if (!Files.isRegularFile(p)) throw new NoSuchFileException(name, null, "no image '" + name + "' in the store");
        return p;
    }

    public List<Image> list() throws IOException {
        List<Image> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.sorted().toList()) {
                String n = p.getFileName().toString();
                if (n.startsWith(".") || !Files.isRegularFile(p) || !NAME.matcher(n).matches()) continue;
                out.add(describe(n));
            }
        }
        return out;
    }

    public Image describe(String name) throws IOException {
        Path p = existing(name);
        String label = Labels.get(p);
        try {
            ImageInfo i = BlockImages.info(p);
            String backing = i.backingFile() == null ? null : Path.of(i.backingFile()).getFileName().toString();
            return new Image(name, i.format(), i.virtualSize(), i.fileSize(), backing, label);
        } catch (IOException e) {
            // a damaged image is listed, not hidden: the operator has to see it to remove it
            return new Image(name, "unknown", 0, Files.size(p), null, label);
        }
    }

    /** Makes a new image; {@code backing} (or null) is another image of the store. */
    public Image create(String name, String format, long size, String backing) throws IOException {
        Path p = path(name);
        if (Files.exists(p)) throw new FileAlreadyExistsException(name, null, "an image named '" + name + "' exists already");
        if (!"qcow2".equals(format) && !"raw".equals(format)) throw new IllegalArgumentException("format must be qcow2 or raw");
        Path b = backing == null ? null : existing(backing);
        if (b != null && !"qcow2".equals(format)) throw new IllegalArgumentException("only a qcow2 image can have a backing image");
        if (b == null && size <= 0) throw new IllegalArgumentException("size must be given (e.g. 1G) unless there is a backing image");
        // the backing image is named relative to the store, so the store can move as a whole
        BlockImages.create(p, format, b != null && size <= 0 ? -1 : size, b == null ? null : Path.of(backing), null);
        return describe(name);
    }

    public void delete(String name) throws IOException {
        Path p = existing(name);
        Labels.clear(p);
        Files.delete(p);
    }
}
