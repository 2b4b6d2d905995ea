package dev.visor.cli.remote;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A WebSocket console as the daemon serves it, just enough of RFC 6455 for one client: sends the
 * scroll-back as a binary message, then echoes each message it gets back as text ("echo:" + it).
 * With {@code refuse} set it answers the handshake with that HTTP status and a JSON error instead.
 */
final class FakeConsoleServer implements AutoCloseable {
    final ServerSocket socket;
    final List<String> requestLines = new CopyOnWriteArrayList<>();
    final List<byte[]> received = new CopyOnWriteArrayList<>();
    volatile boolean clientClosed;
    private final byte[] scrollBack;
    private final int refuse;
    private final int closeCode;
    private final Thread thread;

    FakeConsoleServer(String scrollBack, int refuse) throws IOException {
        this(scrollBack, refuse, 0);
    }

    /** With {@code closeCode} set: closes the console with that code and the reason "VM 'web1' has no running VMM" after the scroll-back. */
    FakeConsoleServer(String scrollBack, int refuse, int closeCode) throws IOException {
        this.socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        this.scrollBack = scrollBack.getBytes(StandardCharsets.UTF_8);
        this.refuse = refuse;
        this.closeCode = closeCode;
        this.thread = Thread.ofPlatform().daemon().start(this::serve);
    }

    String url() {
        return "http://127.0.0.1:" + socket.getLocalPort();
    }

    String header(String name) {
        for (String l : requestLines) {
            int colon = l.indexOf(':');
            if (colon > 0 && l.substring(0, colon).equalsIgnoreCase(name)) return l.substring(colon + 1).strip();
        }
        return null;
    }

    private void serve() {
        try (Socket s = socket.accept()) {
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            String line;
            while (!(line = readLine(in)).isEmpty()) requestLines.add(line);
            if (refuse != 0) {
                byte[] body = "{\"error\":\"no VM 'nope'\"}".getBytes(StandardCharsets.UTF_8);
                out.write(("HTTP/1.1 " + refuse + " Not Found\r\nContent-Type: application/json\r\nContent-Length: " + body.length
                        + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                out.write(body);
                out.flush();
                return;
            }
            String key = header("Sec-WebSocket-Key");
            String accept = Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-1")
                    .digest((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").getBytes(StandardCharsets.US_ASCII)));
            out.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
                    + accept + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            frame(out, 0x2, scrollBack);
            if (closeCode != 0) {
                byte[] reason = "VM 'web1' has no running VMM".getBytes(StandardCharsets.UTF_8);
                byte[] payload = new byte[2 + reason.length];
                payload[0] = (byte) (closeCode >> 8);
                payload[1] = (byte) closeCode;
                System.arraycopy(reason, 0, payload, 2, reason.length);
                frame(out, 0x8, payload);
            }
            while (true) {
                int b0 = in.read();
                if (b0 < 0) return;
                int b1 = in.read();
                long len = b1 & 0x7f;
                if (len == 126) len = (in.read() << 8) | in.read();
                else if (len == 127) {
                    len = 0;
                    for (int i = 0; i < 8; i++) len = (len << 8) | in.read();
                }
                byte[] mask = (b1 & 0x80) != 0 ? in.readNBytes(4) : new byte[4];
                byte[] payload = in.readNBytes((int) len);
                for (int i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
                int opcode = b0 & 0x0f;
                if (opcode == 0x8) {
                    clientClosed = true;
                    frame(out, 0x8, new byte[] {0x03, (byte) 0xe8}); // 1000
                    return;
                }
                if (opcode == 0x1 || opcode == 0x2) {
                    received.add(payload);
                    frame(out, 0x1, ("echo:" + new String(payload, StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8));
                }
            }
        } catch (Exception e) {
            // the test is over
        }
    }

    /** What the client typed, all of it. */
    String typed() {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        for (byte[] b : received) all.writeBytes(b);
        return all.toString(StandardCharsets.UTF_8);
    }

    private static void frame(OutputStream out, int opcode, byte[] payload) throws IOException {
        out.write(0x80 | opcode);
        if (payload.length < 126) out.write(payload.length);
        else {
            out.write(126);
            out.write(payload.length >> 8);
            out.write(payload.length & 0xff);
        }
        out.write(payload);
        out.flush();
    }

    private static String readLine(InputStream in) throws IOException {
        List<Byte> bytes = new ArrayList<>();
        int b;
        while ((b = in.read()) >= 0 && b != '\n') if (b != '\r') bytes.add((byte) b);
        byte[] a = new byte[bytes.size()];
        for (int i = 0; i < a.length; i++) a[i] = bytes.get(i);
        return new String(a, StandardCharsets.US_ASCII);
    }

    @Override
    public void close() throws IOException {
        socket.close();
        thread.interrupt();
    }
}
