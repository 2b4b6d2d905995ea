package dev.visor.images;

import java.io.IOException;

/**
 * The guest image cannot be fetched, read or built. The message is one line for a person: it says
 * what failed and, where there is one, what to do next (for example "check network/apt
 * configuration").
 *
 * <p>It is an {@link IOException} because every cause is one (a process, a download, a file), so
 * low-level readers such as {@link DebPackage} can report format errors through their ordinary
 * {@code throws IOException} while the store's public methods promise only this type.
 */
public final class ImageException extends IOException {
    public ImageException(String message) { super(message); }
    public ImageException(String message, Throwable cause) { super(message, cause); }
}
