package dev.visor.cli;

import java.io.ByteArrayOutputStream;
import java.io.Console;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The controlling terminal, driven through {@code stty} on {@code /dev/tty}: raw mode while a VM owns
 * the console, and the saved settings put back on every way out (normal return, exception, signal).
 */
public final class Terminal implements AutoCloseable {
    private static final File TTY = new File("/dev/tty");

    private final String saved;
    private final AtomicBoolean restored = new AtomicBoolean();
    private final Thread hook;

    private Terminal(String saved) {
        this.saved = saved;
        this.hook = new Thread(this::restoreQuietly, "visor-tty-restore");
    }

    /** True when stdin and stdout are this process's terminal and {@code stty} can drive it. */
    public static boolean interactive() {
        Console console = System.console();
        if (console == null || !console.isTerminal()) return false;
        try {
            stty("-g");
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** Saves the terminal's settings and puts it in raw mode without echo. */
    public static Terminal raw() throws IOException {
        String saved = stty("-g").strip();
        Terminal t = new Terminal(saved);
        Runtime.getRuntime().addShutdownHook(t.hook);
        try {
            stty("raw", "-echo");
        } catch (IOException e) {
            t.close();
            throw e;
        }
        return t;
    }

    /** Puts the saved settings back (once). */
    @Override
    public void close() {
        restoreQuietly();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook runs or has run
        }
    }

    private void restoreQuietly() {
        if (!restored.compareAndSet(false, true)) return;
        try {
            stty(saved);
        } catch (IOException e) {
            System.err.println("visor: could not restore the terminal (" + e.getMessage() + "); try 'stty sane'");
        }
    }

    /** Runs {@code stty args} on /dev/tty and returns what it printed. */
    static String stty(String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add("stty");
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd)
                .redirectInput(ProcessBuilder.Redirect.from(TTY))
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (InputStream in = p.getInputStream()) {
            in.transferTo(out);
        }
        try {
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("stty did not finish");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted while running stty");
        }
        if (p.exitValue() != 0) throw new IOException("stty " + String.join(" ", args) + " failed");
        return out.toString(StandardCharsets.US_ASCII);
    }
}
