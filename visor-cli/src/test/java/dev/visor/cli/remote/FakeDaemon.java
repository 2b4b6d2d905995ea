package dev.visor.cli.remote;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/** A stand-in for visord: canned answers by "METHOD /path[?query]", and every request it got. */
final class FakeDaemon implements AutoCloseable {
    /** One request as the daemon saw it. */
    record Request(String method, String path, String authorization, String contentType, String body) {}

    /** A canned answer. */
    record Answer(int status, String contentType, String body, Consumer<HttpExchange> writer) {}

    final List<Request> requests = new CopyOnWriteArrayList<>();
    private final Map<String, Answer> answers = new ConcurrentHashMap<>();
    private final HttpServer server;

    FakeDaemon() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    /** Answers {@code route} ("POST /api/v1/vms") with JSON. */
    FakeDaemon json(String route, int status, String body) {
        answers.put(route, new Answer(status, "application/json", body, null));
        return this;
    }

    FakeDaemon text(String route, int status, String contentType, String body) {
        answers.put(route, new Answer(status, contentType, body, null));
        return this;
    }

    /** Answers {@code route} by running {@code writer}, which sends the headers and the body itself. */
    FakeDaemon custom(String route, Consumer<HttpExchange> writer) {
        answers.put(route, new Answer(0, null, null, writer));
        return this;
    }

    Request only() {
        if (requests.size() != 1) throw new AssertionError("one request expected, got " + requests);
        return requests.getFirst();
    }

    private void handle(HttpExchange ex) throws IOException {
        String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        String target = ex.getRequestURI().getRawPath() + (ex.getRequestURI().getRawQuery() == null ? "" : "?" + ex.getRequestURI().getRawQuery());
        requests.add(new Request(ex.getRequestMethod(), target, ex.getRequestHeaders().getFirst("Authorization"),
                ex.getRequestHeaders().getFirst("Content-Type"), body));
        Answer a = answers.get(ex.getRequestMethod() + " " + target);
        if (a == null) a = new Answer(404, "application/json", "{\"error\":\"no route " + ex.getRequestMethod() + " " + target + "\"}", null);
        if (a.writer() != null) {
            a.writer().accept(ex);
            ex.close();
            return;
        }
        byte[] bytes = a.body().getBytes(StandardCharsets.UTF_8);
        if (a.contentType() != null) ex.getResponseHeaders().set("Content-Type", a.contentType());
        ex.sendResponseHeaders(a.status(), a.status() == 204 ? -1 : bytes.length);
        if (a.status() != 204) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(bytes);
            }
        }
        ex.close();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
