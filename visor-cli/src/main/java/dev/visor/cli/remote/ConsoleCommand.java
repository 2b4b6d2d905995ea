package dev.visor.cli.remote;

import dev.visor.cli.CliException;
import dev.visor.cli.ConsoleEscape;
import dev.visor.cli.Terminal;
import dev.visor.cli.remote.DaemonClient.Role;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code visor vm console NAME}: a VM's serial console over the daemon's WebSocket. At a terminal: raw
 * mode, Ctrl-A x detaches (the VM runs on). Otherwise stdin is typed into the console and the command
 * ends once stdin has ended and the console has been quiet for a second.
 */
@Command(name = "console", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
        description = "Attach to a VM's serial console (its scroll-back first). Role: viewer to watch, operator to type.",
        footer = {"",
            "At a terminal: Ctrl-A x detaches (the VM runs on), Ctrl-A h prints help,",
            "Ctrl-A Ctrl-A sends Ctrl-A. When stdin is not a terminal, its bytes are typed",
            "as they come, and the command ends once stdin has ended and the console has",
            "been quiet for a second (or at --timeout), e.g.",
            "  printf 'uname -a\\n' | visor vm console web1"})
public final class ConsoleCommand extends RemoteCommand {
    static final long IDLE_NANOS = TimeUnit.SECONDS.toNanos(1);

    static final String HELP = String.join("\r\n",
            "C-a h    print this help",
            "C-a x    detach (the VM runs on)",
            "C-a C-a  send C-a to the guest",
            "");

    @Parameters(index = "0", paramLabel = "NAME", description = "The VM.")
    String name;

    @Option(names = "--no-stdin", description = "Only watch: type nothing, and run until --timeout or the console closes.")
    boolean noStdin;

    @Option(names = "--timeout", paramLabel = "SECONDS", description = "Detach after this many seconds.")
    Double timeout;

    /** How the console ended. */
    private record Closed(int code, String reason) {}

    @Override
    int run(DaemonClient client) throws CliException {
        if (timeout != null && !(timeout > 0)) throw bad("--timeout must be more than 0 seconds (got " + timeout + ")");
        boolean interactive = !noStdin && Terminal.interactive();
        PrintStream stdout = System.out; // the guest's bytes as they are, not through a charset
        AtomicLong lastOutput = new AtomicLong(System.nanoTime());
        CompletableFuture<Closed> closed = new CompletableFuture<>();
        WebSocket.Listener listener = new WebSocket.Listener() {
            @Override
            public void onOpen(WebSocket ws) {
                ws.request(1);
            }

            @Override
            public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
                byte[] bytes = new byte[data.remaining()];
                data.get(bytes);
                output(bytes);
                ws.request(1);
                return null;
            }

            @Override
            public CompletionStage<?> onText(WebSocket ws, CharSequence text, boolean last) {
                output(text.toString().getBytes(StandardCharsets.UTF_8));
                ws.request(1);
                return null;
            }

            private void output(byte[] bytes) {
                synchronized (stdout) {
                    stdout.write(bytes, 0, bytes.length);
                    stdout.flush();
                }
                lastOutput.set(System.nanoTime());
            }

            @Override
            public CompletionStage<?> onClose(WebSocket ws, int code, String reason) {
                closed.complete(new Closed(code, reason));
                return null;
            }

            @Override
            public void onError(WebSocket ws, Throwable error) {
                closed.completeExceptionally(error);
            }
        };
        WebSocket ws = client.webSocket(vmPath(name) + "/console", listener, Role.VIEWER);
        try {
            return interactive ? interactive(ws, closed) : piped(ws, closed, lastOutput);
        } finally {
            if (!ws.isOutputClosed()) {
                try {
                    ws.sendClose(WebSocket.NORMAL_CLOSURE, "").get(1, TimeUnit.SECONDS);
                    closed.get(1, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (ExecutionException | TimeoutException ignored) {
                    // gone already, or slow to say goodbye: nothing more to wait for
                }
            }
            ws.abort();
            stdout.flush();
        }
    }

    /** At a terminal: raw mode, the escape keys; until Ctrl-A x or the daemon closes the console. */
    private int interactive(WebSocket ws, CompletableFuture<Closed> closed) throws CliException {
        PrintWriter err = err();
        CompletableFuture<Void> detached = new CompletableFuture<>();
        ConsoleEscape escape = new ConsoleEscape();
        ConsoleEscape.Listener keys = new ConsoleEscape.Listener() {
            @Override
            public void forward(byte[] data, int off, int len) {
                if (!send(ws, data, off, len)) detached.complete(null);
            }

            @Override
            public void action(ConsoleEscape.Action action) {
                switch (action) {
                    case HELP -> {
                        err.print("\r\n" + HELP);
                        err.flush();
                    }
                    case QUIT -> detached.complete(null);
                }
            }
        };
        try (Terminal ignored = Terminal.raw()) {
            err.print("visor: " + name + "'s console; Ctrl-A x detaches, Ctrl-A h for help\r\n");
            err.flush();
            readInput(System.in, (buf, n) -> escape.feed(buf, 0, n, keys), escape::quitRequested, () -> { });
            CompletableFuture.anyOf(closed, detached).get();
        } catch (IOException e) {
            throw new CliException("cannot put the terminal in raw mode: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 130;
        } catch (ExecutionException e) {
            throw lost(e.getCause());
        }
        if (detached.isDone() && !closed.isDone()) {
            err.println();
            err.println("visor: detached from " + name + "'s console");
            err.flush();
            return 0;
        }
        err.println();
        return ended(closed.join(), err);
    }

    /** stdin (unless --no-stdin) typed into the console; until it ends and output is quiet, --timeout, or the console closes. */
    private int piped(WebSocket ws, CompletableFuture<Closed> closed, AtomicLong lastOutput) throws CliException {
        long start = System.nanoTime();
        long limit = timeout == null ? Long.MAX_VALUE : (long) (timeout * 1e9);
        AtomicLong inputEnded = new AtomicLong(-1); // nanoTime when stdin ended, -1 while it goes on
        if (!noStdin) {
            readInput(System.in, (buf, n) -> {
                if (!send(ws, buf, 0, n)) throw new IllegalStateException("console closed");
            }, () -> false, () -> inputEnded.set(System.nanoTime()));
        }
        try {
            while (true) {
                try {
                    return ended(closed.get(50, TimeUnit.MILLISECONDS), err());
                } catch (TimeoutException stillOpen) {
                    long now = System.nanoTime();
                    if (now - start >= limit) return 0;
                    long ended = inputEnded.get();
                    if (ended >= 0 && now - Math.max(ended, lastOutput.get()) >= IDLE_NANOS) return 0;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 130;
        } catch (ExecutionException e) {
            throw lost(e.getCause());
        }
    }

    /** The daemon closed the console: 0 for a normal end (the VM stopped), else why. */
    private int ended(Closed c, PrintWriter err) throws CliException {
        String reason = c.reason() == null || c.reason().isBlank() ? "" : ": " + DaemonClient.oneLine(c.reason());
        if (c.code() == WebSocket.NORMAL_CLOSURE || c.code() == 1001) {
            if (!reason.isEmpty()) {
                err.println("visor: the console of " + name + " closed" + reason);
                err.flush();
            }
            return 0;
        }
        // the daemon's own codes (4000-4999: 4404 when the VM has no running VMM) come with a reason for people
        if (c.code() >= 4000 && !reason.isEmpty()) throw new CliException(DaemonClient.oneLine(c.reason()));
        throw new CliException("the daemon closed the console of " + name + " (" + c.code() + ")" + reason);
    }

    private CliException lost(Throwable t) {
        String m = t == null || t.getMessage() == null ? String.valueOf(t) : t.getMessage();
        return new CliException("lost the console of " + name + ": " + DaemonClient.oneLine(m), t);
    }

    /** Sends typed bytes as one binary message; false when the console is closed. */
    private static boolean send(WebSocket ws, byte[] data, int off, int len) {
        if (ws.isOutputClosed()) return false;
        try {
            ws.sendBinary(ByteBuffer.wrap(data.clone(), off, len), true).get();
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } catch (ExecutionException e) {
            return false;
        }
    }

    private interface Chunk { void accept(byte[] buf, int n); }

    /** Reads {@code in} on a daemon thread until it ends (then runs {@code onEnd}), {@code done}, or a chunk fails. */
    private static void readInput(InputStream in, Chunk sink, java.util.function.BooleanSupplier done, Runnable onEnd) {
        Thread.ofPlatform().daemon().name("visor-console-stdin").start(() -> {
            byte[] buf = new byte[4096];
            try {
                int n;
                while (!done.getAsBoolean() && (n = in.read(buf)) > 0) sink.accept(buf, n);
            } catch (IOException | IllegalStateException e) {
                // stdin or the console is gone: nothing more to type
            } finally {
                onEnd.run();
            }
        });
    }
}
