package dev.visor.daemon.api;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.visor.daemon.DaemonException;
import dev.visor.daemon.events.Event;
import dev.visor.daemon.events.EventBus;
import dev.visor.daemon.images.ImageStore;
import dev.visor.daemon.model.DiskRef;
import dev.visor.daemon.model.Role;
import dev.visor.daemon.model.TokenInfo;
import dev.visor.daemon.model.VmDefinition;
import dev.visor.daemon.model.VmRecord;
import dev.visor.daemon.store.AuditLog;
import dev.visor.daemon.store.NameTakenException;
import dev.visor.daemon.store.StoreException;
import dev.visor.daemon.store.TokenStore;
import dev.visor.daemon.vm.ConsoleHub;
import dev.visor.daemon.vm.Supervisor;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import io.javalin.http.HttpStatus;
import io.javalin.http.sse.SseClient;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * visord's REST API (JSON over HTTP; see openapi.json): authenticates every call with a bearer
 * token, checks the route's role, records every changing call in the audit log, and hands the
 * work to the {@link Supervisor}. Javalin on Jetty, a virtual thread per request.
 */
public final class ApiServer implements AutoCloseable {
    /** Request bodies are small JSON objects; anything larger is refused before it is parsed. */
    static final int MAX_BODY = 64 * 1024;
    private static final String PREFIX = "/api/v1";
    private static final String PRINCIPAL = "visor.principal";

    private final Supervisor supervisor;
    private final TokenStore tokens;
    private final AuditLog audit;
    private final EventBus events;
    private final ImageStore images;
    private final Supplier<Map<String, Object>> host;
    private final Supplier<String> metrics;
    private final String metricsContentType;
    private final ObjectMapper json = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    private Javalin app;
    /** The API's address; incoming migrations listen on it too. */
    private String bindHost;

    public ApiServer(Supervisor supervisor, TokenStore tokens, AuditLog audit, EventBus events, ImageStore images,
                     Supplier<Map<String, Object>> host, Supplier<String> metrics, String metricsContentType) {
        this.supervisor = supervisor;
        this.tokens = tokens;
        this.audit = audit;
        this.events = events;
        this.images = images;
        this.host = host;
        this.metrics = metrics;
        this.metricsContentType = metricsContentType;
    }

    /** Starts serving on host:port (port 0: any free port); returns the port. */
    public int start(String bindHost, int port) {
        this.bindHost = bindHost;
        app = Javalin.create(config -> {
            config.jetty.host = bindHost;
            config.jetty.port = port;
            config.startup.showJavalinBanner = false;
            config.http.maxRequestSize = 1 << 20;
            config.concurrency.useVirtualThreads = true;
            routes(config.routes);
        }).start();
        return app.port();
    }

    @Override
    public void close() {
        if (app != null) app.stop();
    }

    // ------------------------------------------------------------------ routes

    private void routes(io.javalin.config.RoutesConfig r) {
        r.before(this::authenticate);
        r.after(this::auditChange);
        r.exception(DaemonException.class, (e, ctx) -> ctx.status(e.status()).json(Views.error(e.getMessage(), e.field())));
        r.exception(Refused.class, (e, ctx) -> ctx.status(e.status).json(Views.error(e.getMessage(), null)));
        r.exception(Exception.class, (e, ctx) -> {
            System.err.println("visord: " + ctx.method() + " " + ctx.path() + ": " + e);
            ctx.status(500).json(Views.error("internal error: " + String.valueOf(e.getMessage()).lines().findFirst().orElse(""), null));
        });
        r.error(404, ctx -> {
            if (ctx.result() == null || ctx.result().isEmpty()) ctx.json(Views.error("no such route: " + ctx.method() + " " + ctx.path(), null));
        });

        r.get(PREFIX + "/openapi.json", this::openApi);
        r.get(PREFIX + "/host", ctx -> { need(ctx, Role.VIEWER); ctx.json(host.get()); });
        r.get("/metrics", ctx -> { need(ctx, Role.VIEWER); ctx.contentType(metricsContentType).result(metrics.get()); });

        r.get(PREFIX + "/vms", ctx -> { need(ctx, Role.VIEWER); ctx.json(supervisor.list().stream().map(Views::vm).toList()); });
        r.post(PREFIX + "/vms", ctx -> {
            need(ctx, Role.ADMIN);
            VmDefinition d = DefinitionParser.define(body(ctx));
            ctx.status(201).json(Views.vm(supervisor.define(d)));
        });
        r.get(PREFIX + "/vms/{name}", ctx -> { need(ctx, Role.VIEWER); ctx.json(Views.vm(supervisor.get(name(ctx)))); });
        r.patch(PREFIX + "/vms/{name}", ctx -> {
            need(ctx, Role.ADMIN);
            VmRecord now = supervisor.get(name(ctx));
            ctx.json(Views.vm(supervisor.update(now.name(), DefinitionParser.update(now.definition(), body(ctx)))));
        });
        r.delete(PREFIX + "/vms/{name}", ctx -> { need(ctx, Role.ADMIN); supervisor.delete(name(ctx)); ctx.status(204); });
        lifecycle(r, "start", supervisor::start);
        lifecycle(r, "shutdown", supervisor::shutdown);
        lifecycle(r, "kill", supervisor::kill);
        lifecycle(r, "reboot", supervisor::reboot);
        lifecycle(r, "pause", supervisor::pause);
        lifecycle(r, "resume", supervisor::resume);

        r.post(PREFIX + "/vms/{name}/disks", ctx -> {
            need(ctx, Role.ADMIN);
            JsonNode b = body(ctx);
            DefinitionParser.object(b);
            DefinitionParser.onlyFields(b, Set.of("image", "readonly"));
            String image = DefinitionParser.text(b, "image", null);
            if (image == null) throw DaemonException.invalid("image", "is required");
            ctx.json(Views.vm(supervisor.attachDisk(name(ctx), new DiskRef(image, DefinitionParser.bool(b, "readonly", false)))));
        });
        r.post(PREFIX + "/vms/{name}/disks/{dev}/resize", ctx -> {
            need(ctx, Role.OPERATOR);
            JsonNode b = body(ctx);
            DefinitionParser.object(b);
            DefinitionParser.onlyFields(b, Set.of("size"));
            long size = DefinitionParser.size(b, "size", -1);
            if (size <= 0) throw DaemonException.invalid("size", "is required (e.g. \"2G\")");
            String dev = ctx.pathParam("dev");
            ctx.json(Map.of("device", dev, "sizeBytes", supervisor.resizeDisk(name(ctx), dev, size)));
        });

        r.get(PREFIX + "/vms/{name}/snapshots", ctx -> {
            need(ctx, Role.VIEWER);
            ctx.json(supervisor.snapshots(name(ctx)).stream().map(Views::snapshot).toList());
        });
        r.post(PREFIX + "/vms/{name}/snapshots", ctx -> {
            need(ctx, Role.OPERATOR);
            JsonNode b = body(ctx);
            DefinitionParser.object(b);
            DefinitionParser.onlyFields(b, Set.of("name"));
            String snap = DefinitionParser.text(b, "name", null);
            if (snap == null || !DefinitionParser.NAME.matcher(snap).matches()) {
                throw DaemonException.invalid("name", "is required: 1 to 32 of a-z, 0-9 and '-'");
            }
            ctx.status(201).json(Views.snapshot(supervisor.snapshot(name(ctx), snap)));
        });
        r.delete(PREFIX + "/vms/{name}/snapshots/{snap}", ctx -> {
            need(ctx, Role.ADMIN);
            supervisor.deleteSnapshot(name(ctx), ctx.pathParam("snap"));
            ctx.status(204);
        });

        r.post(PREFIX + "/vms/{name}/migrate", ctx -> {
            need(ctx, Role.ADMIN);
            JsonNode b = body(ctx);
            DefinitionParser.object(b);
            DefinitionParser.onlyFields(b, Set.of("destination", "token", "copyStorage", "downtimeMs"));
            String dest = DefinitionParser.text(b, "destination", null);
            String token = DefinitionParser.text(b, "token", null);
            if (dest == null) throw DaemonException.invalid("destination", "is required: the other daemon's URL, e.g. http://host2:7445");
            if (token == null) throw DaemonException.invalid("token", "is required: an admin token of the destination daemon");
            java.net.URI uri;
            try {
                uri = java.net.URI.create(dest);
                if (!"http".equals(uri.getScheme()) || uri.getHost() == null) throw new IllegalArgumentException();
            } catch (IllegalArgumentException e) {
                throw DaemonException.invalid("destination", "must be a URL like http://host2:7445");
            }
            long downtime = b.has("downtimeMs") ? b.get("downtimeMs").asLong(-1) : 300;
            if (downtime < 1) throw DaemonException.invalid("downtimeMs", "must be a positive number of milliseconds");
            var m = supervisor.migrate(name(ctx), uri, token, DefinitionParser.bool(b, "copyStorage", false), downtime);
            ctx.json(Map.of("vm", m.vm(), "destination", m.destination(), "totalMs", m.totalMs(), "downtimeMs", m.downtimeMs()));
        });
        r.post(PREFIX + "/migrations/incoming", ctx -> {
            need(ctx, Role.ADMIN);
            JsonNode b = body(ctx);
            DefinitionParser.object(b);
            DefinitionParser.onlyFields(b, Set.of("vm", "copyStorage"));
            VmDefinition d;
            try {
                d = DefinitionParser.define(b.get("vm"));
            } catch (DaemonException e) {
                throw DaemonException.invalid(e.field() == null ? "vm" : "vm." + e.field(), e.getMessage());
            }
            var in = supervisor.incoming(d, DefinitionParser.bool(b, "copyStorage", false), bindHost);
            ctx.status(201).json(Map.of("vm", Views.vm(in.vm()), "port", in.port()));
        });

        r.get(PREFIX + "/vms/{name}/console/log", ctx -> {
            need(ctx, Role.VIEWER);
            VmRecord vm = supervisor.get(name(ctx));
            int bytes = ctx.queryParam("bytes") == null ? ConsoleHub.CAPACITY : parseInt(ctx.queryParam("bytes"), "bytes");
            ConsoleHub hub = supervisor.console(vm.name());
            byte[] out = hub != null ? hub.scrollback(bytes) : supervisor.consoleLogTail(vm, bytes);
            ctx.contentType("text/plain; charset=utf-8").result(out);
        });
        // the HTTP before-handlers do not run for an upgrade request: authenticate here
        r.wsBeforeUpgrade(PREFIX + "/vms/{name}/console", ctx -> {
            authenticate(ctx);
            need(ctx, Role.VIEWER);
        });
        r.ws(PREFIX + "/vms/{name}/console", this::console);

        r.get(PREFIX + "/images", ctx -> { need(ctx, Role.VIEWER); ctx.json(images.list().stream().map(Views::image).toList()); });
        r.post(PREFIX + "/images", ctx -> {
            need(ctx, Role.ADMIN);
            JsonNode b = body(ctx);
            DefinitionParser.object(b);
            DefinitionParser.onlyFields(b, Set.of("name", "format", "size", "backing"));
            String name = DefinitionParser.text(b, "name", null);
            if (name == null) throw DaemonException.invalid("name", "is required");
            String format = DefinitionParser.text(b, "format", "qcow2");
            long size = DefinitionParser.size(b, "size", -1);
            String backing = DefinitionParser.text(b, "backing", null);
            try {
                images.path(name);
            } catch (IllegalArgumentException e) {
                throw DaemonException.invalid("name", e.getMessage());
            }
            try {
                ctx.status(201).json(Views.image(images.create(name, format, size, backing)));
            } catch (FileAlreadyExistsException e) {
                throw DaemonException.conflict(e.getReason());
            } catch (NoSuchFileException e) {
                throw DaemonException.invalid("backing", e.getReason());
            } catch (IllegalArgumentException e) {
                throw DaemonException.invalid(e.getMessage().startsWith("format") ? "format" : e.getMessage().startsWith("size") ? "size" : "backing",
                        e.getMessage());
            }
        });
        r.delete(PREFIX + "/images/{image}", ctx -> {
            need(ctx, Role.ADMIN);
            String image = ctx.pathParam("image");
            supervisor.deleteImage(image);
            ctx.status(204);
        });

        r.before(PREFIX + "/events", ctx -> need(ctx, Role.VIEWER));
        r.sse(PREFIX + "/events", this::eventStream);
        r.get(PREFIX + "/audit", ctx -> {
            need(ctx, Role.ADMIN);
            int limit = ctx.queryParam("limit") == null ? 100 : parseInt(ctx.queryParam("limit"), "limit");
            ctx.json(audit.recent(Math.min(limit, 10000)).stream().map(Views::audit).toList());
        });
        r.get(PREFIX + "/tokens", ctx -> { need(ctx, Role.ADMIN); ctx.json(tokens.list().stream().map(Views::token).toList()); });
        r.post(PREFIX + "/tokens", ctx -> {
            need(ctx, Role.ADMIN);
            JsonNode b = body(ctx);
            DefinitionParser.object(b);
            DefinitionParser.onlyFields(b, Set.of("name", "role"));
            String name = DefinitionParser.text(b, "name", null);
            if (name == null) throw DaemonException.invalid("name", "is required");
            Role role;
            try {
                role = Role.parse(DefinitionParser.text(b, "role", "viewer"));
            } catch (IllegalArgumentException e) {
                throw DaemonException.invalid("role", e.getMessage());
            }
            String secret;
            try {
                secret = tokens.create(name, role);
            } catch (NameTakenException e) {
                throw DaemonException.conflict("a token named '" + name + "' exists already");
            } catch (IllegalArgumentException e) {
                throw DaemonException.invalid("name", e.getMessage());
            }
            Map<String, Object> m = new java.util.LinkedHashMap<>(Views.token(new TokenInfo(name, role, java.time.Instant.now())));
            m.put("token", secret);
            ctx.status(201).json(m);
        });
        r.delete(PREFIX + "/tokens/{token}", ctx -> {
            need(ctx, Role.ADMIN);
            if (!tokens.delete(ctx.pathParam("token"))) throw DaemonException.notFound("no token named '" + ctx.pathParam("token") + "'");
            ctx.status(204);
        });
    }

    private interface VmOp { VmRecord apply(String name) throws DaemonException; }

    private void lifecycle(io.javalin.config.RoutesConfig r, String action, VmOp op) {
        r.post(PREFIX + "/vms/{name}/" + action, ctx -> {
            need(ctx, Role.OPERATOR);
            ctx.json(Views.vm(op.apply(name(ctx))));
        });
    }

    private static String name(Context ctx) { return ctx.pathParam("name"); }

    private static int parseInt(String s, String field) throws DaemonException {
        try {
            int v = Integer.parseInt(s);
            if (v < 0) throw new NumberFormatException();
            return v;
        } catch (NumberFormatException e) {
            throw DaemonException.invalid(field, "must be a whole number");
        }
    }

    /** The request's JSON body, refused (400) when larger than {@link #MAX_BODY}, malformed or not JSON. */
    private JsonNode body(Context ctx) throws DaemonException {
        if (ctx.contentLength() > MAX_BODY) throw DaemonException.invalid(null, "the request body is larger than " + MAX_BODY + " bytes");
        byte[] b;
        try (InputStream in = ctx.req().getInputStream()) {
            b = in.readNBytes(MAX_BODY + 1);
        } catch (IOException e) {
            throw DaemonException.invalid(null, "could not read the request body: " + e.getMessage());
        }
        if (b.length > MAX_BODY) throw DaemonException.invalid(null, "the request body is larger than " + MAX_BODY + " bytes");
        if (b.length == 0) throw DaemonException.invalid(null, "a JSON body is required");
        try {
            JsonNode n = json.readTree(b);
            if (n == null) throw DaemonException.invalid(null, "a JSON body is required");
            return n;
        } catch (JsonProcessingException e) {
            throw DaemonException.invalid(null, "malformed JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw DaemonException.invalid(null, "malformed JSON: " + e.getMessage());
        }
    }

    private void openApi(Context ctx) throws IOException {
        try (InputStream in = ApiServer.class.getResourceAsStream("openapi.json")) {
            if (in == null) throw new IOException("openapi.json is missing from the build");
            ctx.contentType("application/json").result(in.readAllBytes());
        }
    }

    // ------------------------------------------------------------------ security

    /** Finds who is calling (bearer token; for a WebSocket also ?token=); refusal comes in {@link #need}. */
    private void authenticate(Context ctx) throws StoreException {
        // browsers cannot set headers on a WebSocket or an EventSource: those may give ?token=
        boolean queryAllowed = ctx.header("Upgrade") != null || ctx.path().endsWith("/events");
        String secret = secret(ctx.header("Authorization"), queryAllowed ? ctx.queryParam("token") : null);
        if (secret == null) return;
        TokenInfo t = tokens.authenticate(secret).orElse(null);
        if (t != null) ctx.attribute(PRINCIPAL, new Principal(t.name(), t.role()));
        else ctx.attribute(PRINCIPAL + ".bad", Boolean.TRUE);
    }

    /** The token a request gives: its "Authorization: Bearer" header, else {@code query} (may be null); null if none. */
    private static String secret(String authorization, String query) {
        String secret = authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)
                ? authorization.substring(7).strip() : query;
        return secret == null || secret.isEmpty() ? null : secret;
    }

    private static void need(Context ctx, Role role) {
        Principal p = ctx.attribute(PRINCIPAL);
        if (p == null) {
            boolean bad = ctx.attribute(PRINCIPAL + ".bad") != null;
            ctx.header("WWW-Authenticate", "Bearer realm=\"visord\"");
            throw new Refused(401, bad ? "the token is not valid (unknown or deleted)"
                    : "authentication required: send 'Authorization: Bearer TOKEN' (the first admin token is in the daemon's admin.token file)");
        }
        if (!p.role().includes(role)) {
            throw new Refused(403, "token '" + p.name() + "' is " + p.role().apiName() + "; this needs " + role.apiName());
        }
    }

    /** A refusal with its HTTP status (401/403), answered as {"error": ...}. */
    static final class Refused extends RuntimeException {
        final int status;

        Refused(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    /** Every call that may change something (not GET/HEAD/OPTIONS) goes in the audit log, refused ones too. */
    private void auditChange(Context ctx) {
        String m = ctx.method().name();
        if (m.equals("GET") || m.equals("HEAD") || m.equals("OPTIONS")) return;
        Principal p = ctx.attribute(PRINCIPAL);
        try {
            audit.record(p == null ? "-" : p.name(), m, ctx.path(), ctx.statusCode(), ctx.ip());
        } catch (StoreException e) {
            System.err.println("visord: audit log: " + e.getMessage());
        }
    }

    // ------------------------------------------------------------------ streams

    private void eventStream(SseClient client) {
        client.keepAlive();
        Consumer<Event> sub = e -> {
            if (client.terminated()) return;
            try {
                client.sendEvent(e.type(), json.writeValueAsString(Views.event(e)));
            } catch (JsonProcessingException ignored) {
                // a map of strings always serializes
            }
        };
        events.subscribe(sub);
        client.onClose(() -> events.unsubscribe(sub));
        client.sendComment("visord events");
    }

    private void console(io.javalin.websocket.WsConfig ws) {
        ws.onConnect(ctx -> {
            String name = ctx.pathParam("name");
            ConsoleHub hub = supervisor.console(name);
            if (hub == null) {
                ctx.closeSession(4404, "VM '" + name + "' has no running VMM");
                return;
            }
            ctx.session.setIdleTimeout(java.time.Duration.ZERO);
            Consumer<byte[]> viewer = chunk -> {
                try {
                    ctx.send(ByteBuffer.wrap(chunk));
                } catch (RuntimeException e) {
                    // the viewer went away; onClose detaches it
                }
            };
            ctx.attribute("viewer", viewer);
            ctx.attribute("hub", hub);
            hub.attach(viewer);
        });
        ws.onMessage(ctx -> typeInto(ctx, ctx.message().getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        ws.onBinaryMessage(ctx -> {
            ByteBuffer data = ctx.data();
            byte[] b = new byte[data.remaining()];
            data.get(b);
            typeInto(ctx, b);
        });
        ws.onClose(ctx -> {
            ConsoleHub hub = ctx.attribute("hub");
            Consumer<byte[]> viewer = ctx.attribute("viewer");
            if (hub != null && viewer != null) hub.detach(viewer);
        });
    }

    /** Console input needs an operator token; a viewer's keystrokes are dropped with a notice. */
    private void typeInto(io.javalin.websocket.WsContext ctx, byte[] bytes) {
        ConsoleHub hub = ctx.attribute("hub");
        if (hub == null) return;
        Principal p = principalOf(ctx);
        if (p == null || !p.role().includes(Role.OPERATOR)) {
            ctx.send("\r\n[visord: read-only console: typing needs an operator token]\r\n");
            return;
        }
        hub.type(bytes);
    }

    private Principal principalOf(io.javalin.websocket.WsContext ctx) {
        Principal cached = ctx.attribute(PRINCIPAL);
        if (cached != null) return cached;
        String secret = secret(ctx.header("Authorization"), ctx.queryParam("token"));
        if (secret == null) return null;
        try {
            Principal p = tokens.authenticate(secret).map(t -> new Principal(t.name(), t.role())).orElse(null);
            if (p != null) ctx.attribute(PRINCIPAL, p);
            return p;
        } catch (StoreException e) {
            return null;
        }
    }
}
