package dev.visor.daemon.security;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;

/**
 * Security labels on disk images, in the spirit of sVirt: each VM has a label, and an image a VM
 * may write carries that VM's label, so the daemon can refuse to hand it to another VM. The label
 * lives in the file's extended attribute {@code user.visor.label} (it moves with the file, as
 * SELinux's labels do); on a file system without user xattrs it goes in a hidden sidecar file
 * {@code .NAME.label} beside the image.
 */
public final class Labels {
    static final String XATTR = "visor.label";

    private Labels() {}

    /** The image's label, or null when it has none. */
    public static String get(Path image) throws IOException {
        UserDefinedFileAttributeView view = view(image);
        if (view != null) {
            try {
                if (!view.list().contains(XATTR)) return readSidecar(image);
                ByteBuffer b = ByteBuffer.allocate(view.size(XATTR));
                view.read(XATTR, b);
                return new String(b.array(), 0, b.position(), StandardCharsets.UTF_8);
            } catch (UnsupportedOperationException | java.nio.file.FileSystemException e) {
                return readSidecar(image);
            }
        }
        return readSidecar(image);
    }

    /** Puts {@code label} on the image (replacing any). */
    public static void set(Path image, String label) throws IOException {
        UserDefinedFileAttributeView view = view(image);
        if (view != null) {
            try {
                view.write(XATTR, ByteBuffer.wrap(label.getBytes(StandardCharsets.UTF_8)));
                Files.deleteIfExists(sidecar(image));
                return;
            } catch (UnsupportedOperationException | java.nio.file.FileSystemException e) {
                // no user xattrs here (e.g. tmpfs before Linux 6.6): fall through to the sidecar
            }
        }
        Files.writeString(sidecar(image), label);
    }

    /** Removes the image's label (it is free for any VM again). */
    public static void clear(Path image) throws IOException {
        UserDefinedFileAttributeView view = view(image);
        if (view != null) {
            try {
                if (view.list().contains(XATTR)) view.delete(XATTR);
            } catch (UnsupportedOperationException | java.nio.file.FileSystemException ignored) {
                // none to remove
            }
        }
        Files.deleteIfExists(sidecar(image));
    }

    static Path sidecar(Path image) {
        return image.resolveSibling("." + image.getFileName() + ".label");
    }

    private static String readSidecar(Path image) throws IOException {
        Path s = sidecar(image);
        return Files.isRegularFile(s) ? Files.readString(s).strip() : null;
    }

    private static UserDefinedFileAttributeView view(Path image) {
        return Files.getFileAttributeView(image, UserDefinedFileAttributeView.class);
    }
}
