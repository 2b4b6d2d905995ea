package dev.visor.board.virt;

/** A boot file is missing, unreadable, of the wrong kind, or does not fit in guest RAM. One line for a person. */
public final class BootException extends Exception {
    public BootException(String message) { super(message); }
}
