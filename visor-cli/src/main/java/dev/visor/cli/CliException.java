package dev.visor.cli;

/** A failure the CLI reports as {@code visor: <message>} and exit status 1. The message is one line. */
public final class CliException extends Exception {
    public CliException(String message) { super(message); }
    public CliException(String message, Throwable cause) { super(message, cause); }
}
