package dev.visor.daemon.vm;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Talks to one VMM's control socket ({@code visor run --control}): one command line out, one answer
 * line back ("ok ..." or "error: ..."). A connection per command keeps a VMM that restarted, or a
 * daemon that restarted, free of stale connections.
 */
public final class ControlClient {
    private final Path socket;

    public ControlClient(Path socket) {
        this.socket = socket;
    }

    /** Sends {@code command}; returns the text after "ok" (trimmed), or throws with the VMM's error line. */
    public String call(String command, Duration timeout) throws IOException {
        String answer = raw(command, timeout);
        if (answer.startsWith("ok")) return answer.substring(2).strip();
        if (answer.startsWith("error:")) throw new VmmException(answer.substring("error:".length()).strip());
        throw new IOException("the VMM answered '" + answer + "' to " + command.split(" ")[0]);
    }

    /** True when the VMM answers on its socket. */
    public boolean answers() {
        try {
            raw("status", Duration.ofSeconds(2));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private String raw(String command, Duration timeout) throws IOException {
        FutureTask<String> task = new FutureTask<>(() -> exchange(command));
        Thread t = Thread.ofVirtual().name("control-" + command.split(" ")[0]).start(task);
        try {
            return task.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            t.interrupt();
            throw new IOException("the VMM did not answer '" + command.split(" ")[0] + "' within " + timeout.toSeconds() + " s");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) throw io;
            throw new IOException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
    }

    private String exchange(String command) throws IOException {
        // the run directory is the VMM's: a link planted there must not send this VM's commands elsewhere
        if (java.nio.file.Files.isSymbolicLink(socket)) throw new IOException(socket + " is a link, not the VMM's socket");
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ch.write(java.nio.ByteBuffer.wrap((command + "\n").getBytes(StandardCharsets.UTF_8)));
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
            String line = in.readLine();
            if (line == null) throw new IOException("the VMM closed its control socket");
            return line;
        }
    }

    /** The VMM refused a command: its own one-line reason. */
    public static final class VmmException extends IOException {
        public VmmException(String message) { super(message); }
    }
}
