package dev.visor.cli;

import dev.visor.images.GuestImage;
import dev.visor.images.ImageException;
import dev.visor.images.ImageStore;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Optional;

/** What the CLI needs of the image store; tests put a fake in its place. */
public interface Images {
    /** The default guest image, pulled first if it is not cached (progress on {@code progress}). */
    GuestImage defaultImage(PrintStream progress) throws ImageException;

    /** Pulls the default guest image (again, if {@code force}). */
    GuestImage pull(PrintStream progress, boolean force) throws ImageException;

    /** The default image if it is cached; never downloads. */
    Optional<GuestImage> cached() throws ImageException;

    /** Where the images are kept. */
    Path cacheDirectory();

    /** The real store in the standard cache ({@code $VISOR_CACHE}, else {@code ~/.cache/visor}). */
    static Images store() {
        return new Images() {
            private ImageStore store;

            private ImageStore store() {
                if (store == null) store = new ImageStore();
                return store;
            }

            @Override
            public GuestImage defaultImage(PrintStream progress) throws ImageException {
                return store().defaultImage(progress);
            }

            @Override
            public GuestImage pull(PrintStream progress, boolean force) throws ImageException {
                return store().pull(progress, force);
            }

            @Override
            public Optional<GuestImage> cached() throws ImageException {
                return store().cached();
            }

            @Override
            public Path cacheDirectory() {
                return store().cacheDirectory();
            }
        };
    }
}
