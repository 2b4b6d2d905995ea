package dev.visor.bench;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.regex.Pattern;

/**
 * The serial console of a VM running as a child process (Visor or QEMU, both with the console on
 * stdin/stdout): a reader thread collects the output, {@link #waitFor} waits for text in it, and
 * {@link #send} types a line into the process's stdin.
 *
 * <p>Searches run over the console's text with ANSI escape sequences (busybox ash's {@code ESC[6n}
 * cursor queries) and carriage returns removed; a read cursor moves past each match.
 */
final class ChildConsole {
    private static final Pattern ANSI = Pattern.compile("\u001b\\[[0-?]*[ -/]*[@-~]|\u001b[@-Z\\\\-_]|\r");
    private static final Pattern PARTIAL_ESCAPE = Pattern.compile("\u001b(\\[[0-?]*[ -/]*)?$");
    private static final int TAIL_CHARS = 1500;

    private final Object lock = new Object();
    private final ByteArrayOutputStream raw = new ByteArrayOutputStream();
    private final OutputStream stdin;
    private String text = "";
    private int textOfRawSize;
    private int cursor;
    private boolean ended;

    /** Starts reading {@code stdout} (copying it to {@code tee} when not null); lines go to {@code stdin}. */
    ChildConsole(String name, InputStream stdout, OutputStream stdin, PrintStream tee) {
        this.stdin = stdin;
        Thread.ofPlatform().daemon().name(name + "-console").start(() -> {
            byte[] buf = new byte[8192];
            try (stdout) {
                int n;
                while ((n = stdout.read(buf)) > 0) {
                    synchronized (lock) {
                        raw.write(buf, 0, n);
                        lock.notifyAll();
                    }
                    if (tee != null) {
                        tee.write(buf, 0, n);
                        tee.flush();
                    }
                }
            } catch (IOException e) {
                // the process went away
            } finally {
                synchronized (lock) {
                    ended = true;
                    lock.notifyAll();
                }
            }
        });
    }

    /** Types {@code line} and a newline. */
    void send(String line) throws IOException {
        stdin.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        stdin.flush();
    }

    /** Waits for {@code expected} after the cursor, moves past it, returns the text before it. */
    String waitFor(String expected, Duration timeout) throws InterruptedException, ConsoleTimeout {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (lock) {
            while (true) {
                String t = textLocked();
                int at = t.indexOf(expected, cursor);
                if (at >= 0) {
                    String before = t.substring(cursor, at);
                    cursor = at + expected.length();
                    return before;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0 || ended) {
                    throw new ConsoleTimeout((ended ? "the console ended" : "timed out after " + timeout.toSeconds() + " s")
                            + " waiting for \"" + expected.replace("\n", "\\n") + "\"; console tail:\n" + tailLocked());
                }
                lock.wait(Math.max(1, left / 1_000_000));
            }
        }
    }

    /** Moves the cursor to the end of the output so far. */
    void skipToEnd() {
        synchronized (lock) {
            cursor = textLocked().length();
        }
    }

    String tail() {
        synchronized (lock) {
            return tailLocked();
        }
    }

    private String textLocked() {
        if (raw.size() != textOfRawSize) {
            textOfRawSize = raw.size();
            String stripped = ANSI.matcher(raw.toString(StandardCharsets.UTF_8)).replaceAll("");
            text = PARTIAL_ESCAPE.matcher(stripped).replaceFirst("");
        }
        return text;
    }

    private String tailLocked() {
        String t = textLocked();
        return t.length() <= TAIL_CHARS ? t : "..." + t.substring(t.length() - TAIL_CHARS);
    }

    /** Text that did not come in time (or the console ended first); the message quotes the console's tail. */
    static final class ConsoleTimeout extends Exception {
        ConsoleTimeout(String message) { super(message); }
    }
}
