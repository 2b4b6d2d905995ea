package dev.visor.daemon.store;

/**
 * A store operation failed: the database could not be opened or read, or it refused a change.
 * Checked, because every caller (the API, the supervisor, startup) has to decide what a failed
 * write means for it. The message is one line meant for a person (an API "error" or a log line).
 */
public class StoreException extends Exception {
    public StoreException(String message) {
        super(message);
    }

    public StoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
