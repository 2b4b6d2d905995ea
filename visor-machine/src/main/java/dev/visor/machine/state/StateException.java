package dev.visor.machine.state;

/** A state record or file that cannot be used: corrupt, from another version, or for another VM shape. One line, for people. */
public final class StateException extends Exception {
    public StateException(String message) { super(message); }
}
