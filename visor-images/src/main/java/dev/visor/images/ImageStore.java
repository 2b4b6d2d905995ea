package dev.visor.images;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.Optional;

/**
 * The local cache of guest images, by default in {@code $VISOR_CACHE}, else
 * {@code $XDG_CACHE_HOME/visor}, else {@code ~/.cache/visor}.
 *
 * <p>The default image lives in {@code images/default/}: {@code Image} (the kernel),
 * {@code initrd.gz}, {@code fw_jump.bin}, {@code fw_dynamic.bin}, {@code VERSION} (kernel version
 * on the first line) and {@code modules/} (the decompressed {@code .ko} files the initramfs
 * loads). It is built from Debian trixie riscv64 packages fetched with the host's apt
 * ({@link DebianArchive}).
 *
 * <p>A pull builds into a temporary directory beside {@code default/} and renames it into place,
 * so an interrupted pull leaves no half-made image; a file lock serializes pulls of several
 * processes. All methods report failures as {@link ImageException} with a one-line message.
 *
 * <pre>
 *   GuestImage image = new ImageStore().defaultImage(System.err);   // pulls on first use
 *   image.kernel(); image.initrd(); image.firmware(); image.kernelVersion();
 * </pre>
 */
public final class ImageStore {
    static final String KERNEL = "Image";
    static final String INITRD = "initrd.gz";
    static final String FW_JUMP = "fw_jump.bin";
    static final String FW_DYNAMIC = "fw_dynamic.bin";
    static final String VERSION = "VERSION";
    static final String MODULES = "modules";

    /**
     * Version of what a pull writes. Raise it when the contents change (e.g. the /init script):
     * images of another layout count as not cached, so they are pulled again. 2: modules resolved
     * from the kernel's dependency data, ext4 and its dependencies, {@code visor.data=} in /init.
     */
    static final int LAYOUT = 2;

    private static final String DEFAULT = "default";
    private static final String PULL_PREFIX = ".pull-";

    private final Path root;
    private final Optional<URI> mirror;
    private final boolean mirrorFromEnvironment; // read $VISOR_DEBIAN_MIRROR when pulling

    /**
     * The store in the standard cache directory ({@link #standardCacheDirectory()}), fetching from
     * {@code $VISOR_DEBIAN_MIRROR} if set, else from the Debian mirror the host's apt uses.
     */
    public ImageStore() {
        this(standardCacheDirectory(), Optional.empty(), true);
    }

    /** The store in {@code cacheDirectory}, fetching from the Debian mirror the host's apt uses. */
    public ImageStore(Path cacheDirectory) {
        this(cacheDirectory, Optional.empty());
    }

    /** The store in {@code cacheDirectory}, fetching from {@code mirror} if given, else as the host's apt. */
    public ImageStore(Path cacheDirectory, Optional<URI> mirror) {
        this(cacheDirectory, mirror, false);
    }

    private ImageStore(Path cacheDirectory, Optional<URI> mirror, boolean mirrorFromEnvironment) {
        this.root = cacheDirectory.toAbsolutePath();
        this.mirror = mirror;
        this.mirrorFromEnvironment = mirrorFromEnvironment;
    }

    /** {@code $VISOR_CACHE}, else {@code $XDG_CACHE_HOME/visor}, else {@code $HOME/.cache/visor}. */
    public static Path standardCacheDirectory() {
        String visor = System.getenv("VISOR_CACHE");
        if (visor != null && !visor.isBlank()) return Path.of(visor);
        String xdg = System.getenv("XDG_CACHE_HOME");
        // The XDG spec says relative values are invalid and must be ignored.
        if (xdg != null && !xdg.isBlank() && Path.of(xdg).isAbsolute()) return Path.of(xdg, "visor");
        // $HOME first, as XDG means it: Java's user.home comes from the password database and
        // ignores a HOME set for the process.
        String home = System.getenv("HOME");
        if (home == null || home.isBlank() || !Path.of(home).isAbsolute()) home = System.getProperty("user.home");
        return Path.of(home, ".cache", "visor");
    }

    /** The cache directory this store uses. */
    public Path cacheDirectory() {
        return root;
    }

    /** Where the default image lives (whether or not it is there yet). */
    public Path defaultImageDirectory() {
        return images().resolve(DEFAULT);
    }

    /** The default image, pulled first if it is not cached. */
    public GuestImage defaultImage(PrintStream progress) throws ImageException {
        Optional<GuestImage> cached = cached();
        return cached.isPresent() ? cached.get() : pull(progress, false);
    }

    /**
     * Pulls the default image: downloads the packages, builds the image and puts it in place.
     * Without {@code force}, an image already cached is returned as it is.
     */
    public GuestImage pull(PrintStream progress, boolean force) throws ImageException {
        // FileChannel locks belong to the whole JVM: threads of one process take turns here
        // first, processes take turns on the lock file.
        synchronized (ImageStore.class) {
            try {
                Files.createDirectories(images());
            } catch (IOException e) {
                throw new ImageException("cannot create the image cache " + images() + ": " + describe(e), e);
            }
            try (FileChannel lockFile = FileChannel.open(images().resolve(".lock"),
                    StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                 FileLock lock = lockFile.lock()) {
                if (!force) {
                    // Another process may have finished the same pull while we waited for the lock.
                    Optional<GuestImage> cached = cached();
                    if (cached.isPresent()) return cached.get();
                }
                return pullLocked(progress);
            } catch (ImageException e) {
                throw e;
            } catch (IOException e) {
                throw new ImageException("cannot lock the image cache " + images() + ": " + describe(e), e);
            }
        }
    }

    /** The default image if it is cached and complete; never downloads. */
    public Optional<GuestImage> cached() throws ImageException {
        Path dir = defaultImageDirectory();
        if (!Files.isDirectory(dir)) return Optional.empty();
        for (String file : List.of(KERNEL, INITRD, FW_JUMP, FW_DYNAMIC, VERSION)) {
            if (!Files.isRegularFile(dir.resolve(file))) return Optional.empty();
        }
        if (!Files.isDirectory(dir.resolve(MODULES))) return Optional.empty();
        List<String> version;
        try {
            version = Files.readAllLines(dir.resolve(VERSION));
        } catch (IOException e) {
            throw new ImageException("cannot read " + dir.resolve(VERSION) + ": " + describe(e), e);
        }
        if (version.isEmpty() || version.getFirst().isBlank() || !version.contains("layout " + LAYOUT)) {
            return Optional.empty(); // made by another version of Visor: pull again
        }
        return Optional.of(new GuestImage(dir.resolve(KERNEL), dir.resolve(INITRD), dir.resolve(FW_JUMP),
                version.getFirst().strip()));
    }

    private GuestImage pullLocked(PrintStream progress) throws ImageException {
        removeLeftoverPulls();
        Path work;
        try {
            work = Files.createTempDirectory(images(), PULL_PREFIX);
        } catch (IOException e) {
            throw new ImageException("cannot create a directory in " + images() + ": " + describe(e), e);
        }
        try {
            progress.println("visor: pulling the default guest image into " + defaultImageDirectory());
            Path building = Files.createDirectory(work.resolve(DEFAULT));
            Optional<URI> mirror = mirrorFromEnvironment ? environmentMirror() : this.mirror;
            DebianArchive archive = mirror.isPresent()
                    ? new DebianArchive(work.resolve("apt"), mirror.get(), progress)
                    : DebianArchive.usingHostMirror(work.resolve("apt"), progress);
            String version = new ImageAssembler(archive, progress).assemble(building, work);
            install(building, work);
            GuestImage image = cached().orElseThrow(() -> new ImageException(
                    "the pulled image in " + defaultImageDirectory() + " is incomplete"));
            progress.println("visor: guest image ready (kernel " + version + ") in " + defaultImageDirectory());
            return image;
        } catch (ImageException e) {
            throw e;
        } catch (IOException e) {
            throw new ImageException("cannot build the guest image in " + work + ": " + describe(e), e);
        } finally {
            deleteQuietly(work);
        }
    }

    /** Renames the finished image into place; an older one moves into the work dir and goes with it. */
    private void install(Path building, Path work) throws IOException {
        Path target = defaultImageDirectory();
        if (Files.exists(target)) move(target, work.resolve("replaced"));
        move(building, target);
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            // Same directory, so same file system: should not happen; a plain rename still does.
            Files.move(from, to);
        }
    }

    /** Work directories of pulls that were killed; safe to remove while we hold the lock. */
    private void removeLeftoverPulls() {
        try (DirectoryStream<Path> leftovers = Files.newDirectoryStream(images(), PULL_PREFIX + "*")) {
            for (Path leftover : leftovers) deleteQuietly(leftover);
        } catch (IOException ignored) {
            // only housekeeping
        }
    }

    private Path images() {
        return root.resolve("images");
    }

    private static Optional<URI> environmentMirror() throws ImageException {
        String value = System.getenv("VISOR_DEBIAN_MIRROR");
        if (value == null || value.isBlank()) return Optional.empty();
        try {
            return Optional.of(new URI(value.strip()));
        } catch (URISyntaxException e) {
            throw new ImageException("VISOR_DEBIAN_MIRROR is not a URI (" + e.getMessage()
                    + "); set it to a Debian mirror such as the one in a Debian host's apt sources, or unset it");
        }
    }

    private static String describe(IOException e) {
        // NIO's exceptions carry only a path as message; name the kind of failure too.
        return e instanceof NoSuchFileException ? "no such file " + e.getMessage()
                : e.getClass().getName().startsWith("java.nio.file.") ? e.getClass().getSimpleName() + " " + e.getMessage()
                : String.valueOf(e.getMessage());
    }

    private static void deleteQuietly(Path dir) {
        try {
            Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.deleteIfExists(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                    Files.deleteIfExists(d);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException ignored) {
            // best effort: a leftover is removed by the next pull
        }
    }
}
