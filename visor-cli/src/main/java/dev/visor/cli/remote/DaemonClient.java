package dev.visor.cli.remote;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.MissingNode;
import dev.visor.cli.CliException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CompletionException;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The daemon's REST API (notes/api-contract.md) over {@link HttpClient}: JSON in and out, and its
 * errors turned into {@link CliException}s with one line for a person.
 */
public final class DaemonClient implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    public static final String API = "/api/v1";

    /** The least role a route needs, as the daemon's roles are named. */
    public enum Role {
        VIEWER, OPERATOR, ADMIN;

        public String apiName() { return name().toLowerCase(Locale.ROOT); }
    }

    private final URI base;
    private final String token;
    private final String tokenSource;
    private final String noTokenHint;
    private final HttpClient http;

    /**
     * @param base        the daemon, e.g. http://127.0.0.1:7445 (no trailing slash)
     * @param token       the bearer token, or null to send none
     * @param tokenSource where the token came from ("--token", "VISOR_TOKEN", a file), for messages
     * @param noTokenHint how to give a token, for the message when the daemon wants one and there is none
     */
    public DaemonClient(URI base, String token, String tokenSource, String noTokenHint) {
        this.base = base;
        this.token = token;
        this.tokenSource = tokenSource;
        this.noTokenHint = noTokenHint;
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1) // no h2c upgrade dance with a plain-HTTP daemon
                .connectTimeout(CONNECT_TIMEOUT)
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
    }

    public URI base() { return base; }

    /** A path segment (VM, image, snapshot or token name) percent-encoded. */
    public static String segment(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    public JsonNode get(String path, Role role) throws CliException {
        return call("GET", path, null, role);
    }

    public JsonNode post(String path, JsonNode body, Role role) throws CliException {
        return call("POST", path, body, role);
    }

    public JsonNode patch(String path, JsonNode body, Role role) throws CliException {
        return call("PATCH", path, body, role);
    }

    public void delete(String path, Role role) throws CliException {
        call("DELETE", path, null, role);
    }

    /** One request with a JSON body (or none); the JSON answer, or a missing node for an empty one (204). */
    public JsonNode call(String method, String path, JsonNode body, Role role) throws CliException {
        HttpRequest.BodyPublisher publisher = body == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofString(body.toString(), StandardCharsets.UTF_8);
        HttpRequest.Builder b = request(path).method(method, publisher).header("Accept", "application/json");
        if (body != null) b.header("Content-Type", "application/json; charset=utf-8");
        HttpResponse<byte[]> r = send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        String text = new String(r.body(), StandardCharsets.UTF_8);
        if (r.statusCode() / 100 != 2) throw failure(r.statusCode(), text, role);
        if (text.isBlank()) return MissingNode.getInstance(); // 204, or a daemon with nothing to say
        try {
            return JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new CliException("the daemon at " + base + " answered " + method + " " + path + " with something that is not JSON");
        }
    }

    /** A GET whose answer is bytes (text/plain). */
    public byte[] bytes(String path, Role role) throws CliException {
        HttpResponse<byte[]> r = send(request(path).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
        if (r.statusCode() / 100 != 2) throw failure(r.statusCode(), new String(r.body(), StandardCharsets.UTF_8), role);
        return r.body();
    }

    /** A GET of a stream of lines (server-sent events): each line to {@code lines} as it comes, until the daemon ends it. */
    public void lines(String path, String accept, Role role, Consumer<String> lines) throws CliException {
        HttpResponse<Stream<String>> r = send(request(path).GET().header("Accept", accept).build(), HttpResponse.BodyHandlers.ofLines());
        try (Stream<String> s = r.body()) {
            if (r.statusCode() / 100 != 2) throw failure(r.statusCode(), String.join("\n", s.toList()), role);
            s.forEach(lines);
        } catch (UncheckedIOException e) {
            throw new CliException("lost the daemon at " + base + ": " + describe(e.getCause()), e);
        }
    }

    /** Opens a WebSocket on {@code path} with the token in the Authorization header. */
    public WebSocket webSocket(String path, WebSocket.Listener listener, Role role) throws CliException {
        String scheme = "https".equals(base.getScheme()) ? "wss" : "ws";
        URI uri = URI.create(scheme + base.toString().substring(base.getScheme().length()) + path);
        WebSocket.Builder b = http.newWebSocketBuilder().connectTimeout(CONNECT_TIMEOUT);
        if (token != null) b.header("Authorization", "Bearer " + token);
        try {
            return b.buildAsync(uri, listener).join();
        } catch (CompletionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof WebSocketHandshakeException h) {
                HttpResponse<?> r = h.getResponse();
                Object body = r.body();
                String text = body instanceof byte[] bytes ? new String(bytes, StandardCharsets.UTF_8)
                        : body instanceof String s ? s : "";
                throw failure(r.statusCode(), text, role);
            }
            if (cause instanceof IOException io) throw connectionFailure(io);
            throw new CliException("cannot open the console at " + uri + ": " + describe(cause), cause);
        }
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path));
        if (token != null) b.header("Authorization", "Bearer " + token);
        return b;
    }

    private <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler) throws CliException {
        try {
            return http.send(request, handler);
        } catch (IOException e) {
            throw connectionFailure(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException("interrupted", e);
        }
    }

    private CliException connectionFailure(IOException e) {
        if (e instanceof ConnectException || e instanceof HttpConnectTimeoutException || e.getCause() instanceof ConnectException) {
            return new CliException("cannot reach the daemon at " + base + " (is 'visor daemon' running?)", e);
        }
        return new CliException("lost the daemon at " + base + ": " + describe(e), e);
    }

    /** The daemon's error answer as one line, with what to do about a 401 or 403. */
    CliException failure(int status, String body, Role role) {
        String message = null;
        String field = null;
        try {
            JsonNode n = JSON.readTree(body);
            if (n != null && n.path("error").isTextual()) {
                message = n.path("error").asText();
                if (n.path("field").isTextual()) field = n.path("field").asText();
            }
        } catch (JsonProcessingException notJson) {
            // a proxy's page, or nothing: the status says it
        }
        if (message == null || message.isBlank()) message = "the daemon answered HTTP " + status + reason(status);
        message = oneLine(message);
        if (field != null && !field.isBlank() && !message.contains(field)) message = field + ": " + message;
        if (status == 401) {
            message += token == null
                    ? " (no token: " + noTokenHint + ")"
                    : " (the daemon refused the token from " + tokenSource + ")";
        } else if (status == 403) {
            message += " (this needs a token with the " + role.apiName() + " role"
                    + (role != Role.ADMIN ? " or higher" : "") + "; the token from " + tokenSource + " has a lower one)";
        }
        return new CliException(message);
    }

    private static String reason(int status) {
        return switch (status) {
            case 400 -> " (bad request)";
            case 401 -> " (unauthorized)";
            case 403 -> " (forbidden)";
            case 404 -> " (not found)";
            case 405 -> " (method not allowed: is this a visor daemon of the same version?)";
            case 409 -> " (conflict)";
            case 500 -> " (internal error)";
            case 502, 503, 504 -> " (is 'visor daemon' running behind the proxy?)";
            default -> "";
        };
    }

    static String oneLine(String s) {
        return s == null ? "" : s.strip().replaceAll("\\s*\\R\\s*", "; ");
    }

    private static String describe(Throwable t) {
        String m = t.getMessage();
        return m == null || m.isBlank() ? t.getClass().getSimpleName() : oneLine(m);
    }

    @Override
    public void close() {
        http.shutdownNow(); // never waits on an open stream or socket: the command is done with them
    }
}
