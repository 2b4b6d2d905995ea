package dev.visor.block;

import java.io.IOException;

/** A disk image that cannot be used as asked: the message is one line that says what and what to do. */
public class BlockException extends IOException {
    public BlockException(String message) { super(message); }

    public BlockException(String message, Throwable cause) { super(message, cause); }
}
