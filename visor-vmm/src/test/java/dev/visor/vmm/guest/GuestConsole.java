package dev.visor.vmm.guest;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * The guest's serial console as a test sees it: an {@link OutputStream} the VM writes its console
 * output to, plus a way to type into the guest and to wait for text to appear.
 *
 * <p>Searches run over the <em>text</em> of the console: the bytes decoded as UTF-8 with ANSI escape
 * sequences (such as busybox ash's {@code ESC[6n} cursor queries) and carriage returns removed. A
 * read cursor moves forward over what a wait has consumed, so each wait looks only at output that
 * came after the previous match.
 *
 * <pre>
 *   GuestConsole console = new GuestConsole();
 *   VirtualMachine vm = VirtualMachine.build(spec, console);
 *   console.connect(vm::consoleInput);
 *   vm.start();
 *   console.waitFor("visor: shell ready", Duration.ofSeconds(120));
 *   console.waitForPrompt(Duration.ofSeconds(30));
 *   String out = console.run("echo $((6*7))");   // "42"
 * </pre>
 */
public final class GuestConsole extends OutputStream {
    /** The default image's shell prompt (root in /). */
    public static final String PROMPT = "~ # ";
    /** How much of the console a failure message quotes. */
    private static final int TAIL_CHARS = 2000;

    /** CSI sequences (ESC [ params intermediates final), other two-byte escapes, and bare CRs. */
    private static final Pattern ANSI = Pattern.compile("\u001b\\[[0-?]*[ -/]*[@-~]|\u001b[@-Z\\\\-_]|\r");
    /** An escape sequence cut off at the end of the output so far: hidden until the rest arrives. */
    private static final Pattern PARTIAL_ESCAPE = Pattern.compile("\u001b(\\[[0-?]*[ -/]*)?$");

    /** Where typed bytes go: usually {@code vm::consoleInput}. */
    @FunctionalInterface
    public interface Input {
        void write(byte[] data, int off, int len) throws IOException;
    }

    private final Object lock = new Object();
    private final ByteArrayOutputStream raw = new ByteArrayOutputStream();
    private final String prompt;
    private String text = "";          // raw, decoded and stripped; recomputed when raw grows
    private int textOfRawSize = 0;     // raw.size() that `text` was computed from
    private int cursor = 0;            // index into `text`: waits search from here
    private boolean closed;
    private volatile Input input;

    public GuestConsole() {
        this(PROMPT);
    }

    /** A console whose shell prints {@code prompt} (e.g. "~ # ") when it is ready for a command. */
    public GuestConsole(String prompt) {
        this.prompt = Objects.requireNonNull(prompt);
    }

    /** Where {@link #send} types to; set it once the VM exists (the VM needs this stream first). */
    public void connect(Input input) {
        this.input = input;
    }

    // ---- OutputStream: the VM's side -------------------------------------------------------------

    @Override
    public void write(int b) {
        synchronized (lock) {
            raw.write(b);
            lock.notifyAll();
        }
    }

    @Override
    public void write(byte[] b, int off, int len) {
        synchronized (lock) {
            raw.write(b, off, len);
            lock.notifyAll();
        }
    }

    @Override
    public void write(byte[] b) {
        write(b, 0, b.length);
    }

    /** Marks the end of output (the VM stopped): waits fail at once instead of timing out. */
    @Override
    public void close() {
        synchronized (lock) {
            closed = true;
            lock.notifyAll();
        }
    }

    // ---- the test's side -----------------------------------------------------------------------

    /** Types {@code line} and a newline into the guest's console. */
    public void send(String line) throws IOException {
        Input in = input;
        if (in == null) throw new IllegalStateException("GuestConsole.connect was not called");
        byte[] bytes = (line + "\n").getBytes(StandardCharsets.UTF_8);
        in.write(bytes, 0, bytes.length);
    }

    /**
     * Waits until {@code expected} appears in the console text after the read cursor, moves the
     * cursor past it and returns the text from the old cursor up to (not including) the match.
     *
     * @throws GuestTimeoutException with the console's tail when it does not appear in time
     */
    public String waitFor(String expected, Duration timeout) throws InterruptedException {
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
                if (left <= 0 || closed) {
                    throw new GuestTimeoutException((closed ? "console closed" : "timed out after " + timeout.toSeconds() + " s")
                            + " waiting for " + quote(expected) + "; console tail:\n" + tailLocked());
                }
                lock.wait(Math.max(1, left / 1_000_000));
            }
        }
    }

    /** Waits for the shell's prompt after the cursor; returns the text before it. */
    public String waitForPrompt(Duration timeout) throws InterruptedException {
        return waitFor(prompt, timeout);
    }

    /**
     * Runs one shell command: moves the cursor to the end of the output (the shell is expected to sit
     * at its prompt), types {@code command}, waits for the shell to echo it and for the next prompt,
     * and returns the output in between: lines joined with "\n", without the trailing newline and
     * without ANSI escapes.
     */
    public String run(String command, Duration timeout) throws IOException, InterruptedException {
        if (command.contains("\n")) throw new IllegalArgumentException("one line at a time: " + quote(command));
        long deadline = System.nanoTime() + timeout.toNanos();
        skipToEnd();
        send(command);
        waitFor(command, remaining(deadline));  // the echo
        waitFor("\n", remaining(deadline));     // end of the echoed line
        String out = waitFor(prompt, remaining(deadline));
        if (out.endsWith("\n")) out = out.substring(0, out.length() - 1);
        return out;
    }

    /** {@link #run(String, Duration)} with a one-minute limit. */
    public String run(String command) throws IOException, InterruptedException {
        return run(command, Duration.ofSeconds(60));
    }

    /** Moves the read cursor to the end of what has arrived so far. */
    public void skipToEnd() {
        synchronized (lock) {
            cursor = textLocked().length();
        }
    }

    /** All console text so far (escapes stripped). */
    public String text() {
        synchronized (lock) {
            return textLocked();
        }
    }

    /** The last couple of thousand characters of console text, for failure messages. */
    public String tail() {
        synchronized (lock) {
            return tailLocked();
        }
    }

    /** Strips ANSI escape sequences and carriage returns. */
    public static String stripAnsi(String s) {
        return ANSI.matcher(s).replaceAll("");
    }

    private String textLocked() {
        if (raw.size() != textOfRawSize) {
            textOfRawSize = raw.size();
            String decoded = raw.toString(StandardCharsets.UTF_8);
            text = PARTIAL_ESCAPE.matcher(stripAnsi(decoded)).replaceFirst("");
        }
        return text;
    }

    private String tailLocked() {
        String t = textLocked();
        return t.length() <= TAIL_CHARS ? t : "..." + t.substring(t.length() - TAIL_CHARS);
    }

    private static Duration remaining(long deadline) {
        return Duration.ofNanos(Math.max(1, deadline - System.nanoTime()));
    }

    private static String quote(String s) {
        return "\"" + s.replace("\n", "\\n") + "\"";
    }

    /** A wait that ran out; its message ends with the console's tail. */
    public static final class GuestTimeoutException extends AssertionError {
        GuestTimeoutException(String message) { super(message); }
    }
}
