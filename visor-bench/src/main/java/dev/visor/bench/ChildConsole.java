package dev.visor.bench;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The serial console of a VM running as a child process (Visor or QEMU, both with the console on
 * stdin/stdout): a reader thread collects the output, {@link #waitFor} waits for text in it, and
 * {@link #send} types a line into the process's stdin.
 *
 * <p>Searches run over the console's text with ANSI escape sequences (busybox ash's {@code ESC[6n}
 * cursor queries) and carriage returns removed; a read cursor moves past each match.
 *
 * <p>The reader also notes when each chunk of output arrived, so {@link #arrivalsOf} can tell when a
 * line reached the host (e.g. the last and first ticks around a migration).
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
    /** System.nanoTime() at which each chunk arrived, and the raw size once it was in. */
    private long[] arrivalNanos = new long[1024], arrivalEnd = new long[1024];
    private int arrivals;

    /** Starts reading {@code stdout} (copying it to {@code tee} when not null); lines go to {@code stdin}. */
    ChildConsole(String name, InputStream stdout, OutputStream stdin, PrintStream tee) {
        this.stdin = stdin;
        Thread.ofPlatform().daemon().name(name + "-console").start(() -> {
            byte[] buf = new byte[8192];
            try (stdout) {
                int n;
                while ((n = stdout.read(buf)) > 0) {
                    long now = System.nanoTime();
                    synchronized (lock) {
                        raw.write(buf, 0, n);
                        if (arrivals == arrivalNanos.length) {
                            arrivalNanos = Arrays.copyOf(arrivalNanos, arrivals * 2);
                            arrivalEnd = Arrays.copyOf(arrivalEnd, arrivals * 2);
                        }
                        arrivalNanos[arrivals] = now;
                        arrivalEnd[arrivals++] = raw.size();
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

    /** A match of a pattern in the raw output (bytes as ISO-8859-1), and when its last byte arrived. */
    record Arrival(String text, long nanos) {}

    /**
     * Every match of {@code pattern} in the raw output so far (escape sequences and carriage returns
     * left in; bytes read as ISO-8859-1), each with the System.nanoTime() at which its last byte arrived.
     */
    List<Arrival> arrivalsOf(Pattern pattern) {
        synchronized (lock) {
            List<Arrival> found = new ArrayList<>();
            Matcher m = pattern.matcher(raw.toString(StandardCharsets.ISO_8859_1));
            int chunk = 0;
            while (m.find()) {
                while (chunk < arrivals && arrivalEnd[chunk] < m.end()) chunk++;
                if (chunk == arrivals) break;
                found.add(new Arrival(m.group(), arrivalNanos[chunk]));
            }
            return found;
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
