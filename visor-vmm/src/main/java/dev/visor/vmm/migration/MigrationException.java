package dev.visor.vmm.migration;

import java.io.IOException;

/** A migration failed or was refused; the message is one line for a person. */
public final class MigrationException extends IOException {
    public MigrationException(String message) { super(message); }

    public MigrationException(String message, Throwable cause) { super(message, cause); }
}
