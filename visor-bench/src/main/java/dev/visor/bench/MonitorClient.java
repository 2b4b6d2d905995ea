package dev.visor.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A line-per-command client for a VMM's Unix control socket: Visor's {@code --control} socket (one
 * answer line per command, what {@code visor control} sends and prints) or QEMU's QMP (JSON, one
 * object per line; events are skipped). Blocking; one command at a time.
 */
final class MonitorClient implements AutoCloseable {
    private final SocketChannel channel;
    private final BufferedReader in;
    private final OutputStream out;

    private MonitorClient(SocketChannel channel) {
        this.channel = channel;
        this.in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
        this.out = Channels.newOutputStream(channel);
    }

    /** Connects to {@code socket}, retrying while it does not exist yet or refuses, up to {@code timeout}. */
    static MonitorClient connect(Path socket, Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                ch.connect(UnixDomainSocketAddress.of(socket));
                return new MonitorClient(ch);
            } catch (IOException e) {
                ch.close();
                if (System.nanoTime() > deadline) throw new IOException("cannot connect to " + socket + ": " + e.getMessage(), e);
                Thread.sleep(20);
            }
        }
    }

    /** Visor: sends one command line, returns the answer line ("ok ..." or "error: ..."). */
    String command(String line) throws IOException {
        out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        String answer = in.readLine();
        if (answer == null) throw new IOException("the control socket closed without answering '" + line + "'");
        return answer;
    }

    /** QMP: reads the greeting and enters command mode. */
    MonitorClient qmpHandshake() throws IOException {
        String greeting = in.readLine();
        if (greeting == null || !greeting.contains("\"QMP\"")) throw new IOException("not a QMP greeting: " + greeting);
        qmp("{\"execute\": \"qmp_capabilities\"}");
        return this;
    }

    /** QMP: sends a JSON command, returns its {"return": ...} line; an {"error": ...} answer is an IOException. */
    String qmp(String json) throws IOException {
        out.write((json + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        while (true) {
            String line = in.readLine();
            if (line == null) throw new IOException("QMP closed while waiting for the answer to " + json);
            if (line.startsWith("{\"event\"")) continue;
            if (line.contains("\"error\"")) throw new IOException("QMP refused " + json + ": " + line);
            if (line.contains("\"return\"")) return line;
        }
    }

    /** A whole-number field {@code "key": N} of a JSON line, or -1. */
    static long jsonLong(String json, String key) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(key) + "\":\\s*(-?\\d+)").matcher(json);
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    /** A string field {@code "key": "v"} of a JSON line, or null. */
    static String jsonString(String json, String key) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(key) + "\":\\s*\"([^\"]*)\"").matcher(json);
        return m.find() ? m.group(1) : null;
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // gone already
        }
    }
}
