package dev.visor.cli;

/**
 * The console escape of an interactive {@code visor run}, as in QEMU's {@code -nographic}: bytes typed
 * go to the guest, except that Ctrl-A starts a two-key command.
 * <ul>
 *   <li>Ctrl-A x: quit (stop the VM)</li>
 *   <li>Ctrl-A h (or ?): print help</li>
 *   <li>Ctrl-A Ctrl-A: send one Ctrl-A to the guest</li>
 *   <li>Ctrl-A followed by anything else: both keys are dropped (as QEMU does)</li>
 * </ul>
 * Pure state machine: no I/O, so a Ctrl-A at the end of one read and its command at the start of the
 * next read work as one.
 */
public final class ConsoleEscape {
    public static final byte CTRL_A = 0x01;

    public enum Action { QUIT, HELP }

    /** Where {@link #feed} sends its results, in input order. */
    public interface Listener {
        /** Bytes for the guest; the array is only valid during the call. */
        void forward(byte[] data, int off, int len);

        void action(Action action);
    }

    public static final String HELP = String.join("\r\n",
            "C-a h    print this help",
            "C-a x    exit visor (stops the VM)",
            "C-a C-a  send C-a to the guest",
            "");

    private static final byte[] LITERAL_CTRL_A = {CTRL_A};

    private boolean escaped;
    private boolean quit;

    /** Processes typed bytes. After a QUIT action the remaining bytes (and any later ones) are dropped. */
    public void feed(byte[] data, int off, int len, Listener listener) {
        int runStart = off;
        int end = off + len;
        for (int i = off; i < end && !quit; i++) {
            byte b = data[i];
            if (!escaped) {
                if (b == CTRL_A) {
                    if (i > runStart) listener.forward(data, runStart, i - runStart);
                    escaped = true;
                    runStart = i + 1;
                }
                continue;
            }
            escaped = false;
            runStart = i + 1;
            switch (b) {
                case CTRL_A -> listener.forward(LITERAL_CTRL_A, 0, 1);
                case 'x', 'X' -> {
                    quit = true;
                    listener.action(Action.QUIT);
                }
                case 'h', 'H', '?' -> listener.action(Action.HELP);
                default -> { } // unknown command: dropped
            }
        }
        if (!quit && !escaped && end > runStart) listener.forward(data, runStart, end - runStart);
    }

    /** True after Ctrl-A x. */
    public boolean quitRequested() {
        return quit;
    }
}
