package dev.visor.machine.state;

/**
 * Caps on what a state file may make the VMM allocate. A state file may come from another host or
 * a damaged disk: every length in it is checked against these before anything is allocated.
 */
final class StateLimits {
    private StateLimits() {}

    /** A whole state file: device state is kilobytes; this leaves room for large net/console buffers. */
    static final int MAX_FILE = 64 << 20;
    /** One byte, int or long array field. */
    static final int MAX_ARRAY_BYTES = 16 << 20;
    /** Field names and component ids. */
    static final int MAX_NAME = 256;
    /** String values (paths, messages). */
    static final int MAX_STRING = 64 << 10;
    /** Records in a file (64 harts + devices is far below). */
    static final int MAX_RECORDS = 4096;
    /** Fields in one record. */
    static final int MAX_FIELDS = 65536;
}
