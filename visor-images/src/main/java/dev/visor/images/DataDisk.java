package dev.visor.images;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Makes raw disk images with a file system for the guest's data disk, on the host, with no root
 * and no mount: e2fsprogs' {@code mke2fs -d} fills the file system from a directory as it makes it.
 * The guest mounts it with {@code visor.data=/dev/vda} on its kernel command line
 * ({@link InitramfsBuilder#DATA_DISK_OPTION}).
 *
 * <pre>
 *   DataDisk.createExt4(Path.of("data.img"), 64L << 20, Path.of("site/"));
 * </pre>
 */
public final class DataDisk {
    /** Where mke2fs is looked for besides {@code $PATH}: Debian's PATH for ordinary users lacks the sbin directories. */
    private static final List<String> SBIN = List.of("/usr/sbin", "/sbin");

    private DataDisk() {}

    /**
     * Writes a raw image of exactly {@code sizeBytes} (a multiple of 1024) holding an ext4 file
     * system, filled with the files below {@code contentDirOrNull} if it is not null (owners,
     * modes and times as on the host). An existing {@code image} is replaced; on failure no image
     * is left behind.
     *
     * @throws ImageException mke2fs is missing ("install e2fsprogs") or fails (its first error line)
     * @throws IllegalArgumentException {@code sizeBytes} is not positive or not whole KiB
     */
    public static void createExt4(Path image, long sizeBytes, Path contentDirOrNull) throws ImageException {
        if (sizeBytes <= 0 || sizeBytes % 1024 != 0) {
            throw new IllegalArgumentException("disk size must be a positive multiple of 1024 bytes: " + sizeBytes);
        }
        if (contentDirOrNull != null && !Files.isDirectory(contentDirOrNull)) {
            throw new ImageException("cannot fill the data disk from " + contentDirOrNull + ": not a directory");
        }
        Path mke2fs = findMke2fs().orElseThrow(() -> new ImageException(
                "mke2fs is not installed (needed to make the ext4 data disk): install e2fsprogs"));
        try {
            // Exactly the asked size (sparse); mke2fs would otherwise keep a larger old file's length.
            try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw")) {
                file.setLength(0);
                file.setLength(sizeBytes);
            }
        } catch (IOException e) {
            throw new ImageException("cannot create the data disk " + image + ": " + e.getMessage(), e);
        }
        List<String> command = new ArrayList<>(List.of(mke2fs.toString(), "-q", "-t", "ext4"));
        if (contentDirOrNull != null) command.addAll(List.of("-d", contentDirOrNull.toAbsolutePath().toString()));
        // -F: the target is a regular file, not a block device; the size in KiB (a bare number would be blocks).
        command.addAll(List.of("-F", image.toAbsolutePath().toString(), (sizeBytes / 1024) + "k"));
        boolean made = false;
        try {
            run(command, image);
            made = true;
        } finally {
            if (!made) deleteQuietly(image);
        }
    }

    private static void run(List<String> command, Path image) throws ImageException {
        ProcessBuilder builder = new ProcessBuilder(command)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD);
        builder.environment().put("LC_ALL", "C"); // one language for the message we pass on
        try {
            Process process = builder.start();
            String errors;
            try (InputStream stderr = process.getErrorStream()) {
                errors = new String(stderr.readAllBytes(), StandardCharsets.UTF_8);
            }
            int status = process.waitFor();
            if (status != 0) {
                String first = errors.lines().map(String::strip).filter(l -> !l.isEmpty()).findFirst()
                        .orElse("no message");
                throw new ImageException("mke2fs could not make the ext4 data disk " + image
                        + " (exit status " + status + "): " + first);
            }
        } catch (ImageException e) {
            throw e;
        } catch (IOException e) {
            throw new ImageException("cannot run " + command.getFirst() + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ImageException("interrupted while making the data disk " + image, e);
        }
    }

    /** mke2fs from {@code $PATH}, else from the sbin directories. */
    static Optional<Path> findMke2fs() {
        Set<String> dirs = new LinkedHashSet<>();
        String path = System.getenv("PATH");
        if (path != null) dirs.addAll(List.of(path.split(File.pathSeparator)));
        dirs.addAll(SBIN);
        for (String dir : dirs) {
            if (dir.isEmpty()) continue;
            Path candidate = Path.of(dir, "mke2fs");
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) return Optional.of(candidate);
        }
        return Optional.empty();
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // the failure being reported matters more than a leftover file
        }
    }
}
