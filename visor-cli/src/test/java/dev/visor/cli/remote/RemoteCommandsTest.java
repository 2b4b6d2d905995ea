package dev.visor.cli.remote;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.visor.cli.Images;
import dev.visor.cli.Main;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The daemon commands against {@link FakeDaemon}: what they send, what they print, how they fail. */
class RemoteCommandsTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static final String WEB1 = """
            {"name":"web1","id":3,"state":"running","cpus":2,"memoryBytes":1073741824,
             "disks":[{"image":"data.qcow2","readonly":false},{"image":"seed.raw","readonly":true}],
             "nets":["user"],"rng":true,"balloon":false,"append":null,"autostart":true,"restart":"on-failure",
             "snapshot":null,"label":"visor-vm-3","pid":4242,"exitCode":null,"lastError":null,"restarts":0,
             "created":"2026-11-28T10:00:00Z","startedAt":"2026-11-28T10:00:05Z"}""";
    static final String DB = """
            {"name":"db","id":4,"state":"stopped","cpus":1,"memoryBytes":536870912,"disks":[],"nets":["none"],
             "rng":true,"balloon":false,"append":null,"autostart":false,"restart":"never","snapshot":null,
             "label":"visor-vm-4","pid":null,"exitCode":0,"lastError":null,"restarts":0,
             "created":"2026-11-28T10:01:00Z","startedAt":null}""";

    @TempDir
    Path dir;

    FakeDaemon daemon;
    Map<String, String> vars;
    Path home;
    boolean root;

    @BeforeEach
    void setUp() throws IOException {
        daemon = new FakeDaemon();
        home = Files.createDirectories(dir.resolve("home"));
        vars = new HashMap<>();
        vars.put("VISOR_DAEMON", daemon.url());
    }

    @AfterEach
    void tearDown() {
        daemon.close();
    }

    /** What one command line did; {@code stdout} is what went to System.out (console bytes). */
    record Result(int status, String out, String err, String stdout) {
        List<String> errLines() {
            return err.isEmpty() ? List.of() : List.of(err.split("\\R"));
        }
    }

    Result run(String... args) {
        return runWithStdin(new ByteArrayInputStream(new byte[0]), args);
    }

    Result runWithStdin(InputStream stdin, String... args) {
        PrintStream savedOut = System.out;
        InputStream savedIn = System.in;
        ByteArrayOutputStream stdout = new ByteArrayOutputStream();
        // before the CommandLine is made: picocli puts back the System.out it saw then if it changed since
        System.setOut(new PrintStream(stdout, true, StandardCharsets.UTF_8));
        System.setIn(stdin);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status;
        try {
            CommandLine cl = Main.commandLine(Images.store(), new DaemonEnvironment(vars, home, root));
            cl.setOut(new PrintWriter(out, true));
            cl.setErr(new PrintWriter(err, true));
            status = cl.execute(args);
        } finally {
            System.setOut(savedOut);
            System.setIn(savedIn);
        }
        return new Result(status, out.toString(), err.toString(), stdout.toString(StandardCharsets.UTF_8));
    }

    static JsonNode json(String s) {
        try {
            return JSON.readTree(s);
        } catch (IOException e) {
            throw new AssertionError("not JSON: " + s, e);
        }
    }

    static void assertOk(Result r) {
        assertEquals(0, r.status(), () -> "status; stderr: " + r.err());
    }

    static void assertError(Result r, int status, String line) {
        assertEquals(status, r.status(), r.err());
        assertEquals(List.of(line), r.errLines());
        assertEquals("", r.out());
    }

    // ---- what the commands send

    @Test
    void createSendsTheDefineRequest() {
        daemon.json("POST /api/v1/vms", 201, WEB1.replace("\"running\"", "\"stopped\""));
        Result r = run("vm", "create", "web1", "--cpus", "2", "--memory", "1G", "--disk", "data.qcow2",
                "--disk", "seed.raw,readonly=on", "--net", "user,hostfwd=tcp:127.0.0.1:8022-:22", "--net", "switch:/run/sw",
                "--no-rng", "--balloon", "--append", "console=ttyS0 quiet", "--autostart", "--restart", "on-failure",
                "--token", "secret");
        assertOk(r);
        assertEquals("web1: defined (stopped)\n", r.out());
        FakeDaemon.Request q = daemon.only();
        assertEquals("POST", q.method());
        assertEquals("/api/v1/vms", q.path());
        assertEquals("Bearer secret", q.authorization());
        assertTrue(q.contentType().startsWith("application/json"), q.contentType());
        assertEquals(json("""
                {"name":"web1","cpus":2,"memory":"1G",
                 "disks":[{"image":"data.qcow2","readonly":false},{"image":"seed.raw","readonly":true}],
                 "nets":["user,hostfwd=tcp:127.0.0.1:8022-:22","switch:/run/sw"],
                 "rng":false,"balloon":true,"append":"console=ttyS0 quiet","autostart":true,"restart":"on-failure"}"""),
                json(q.body()));
    }

    @Test
    void createSendsOnlyWhatIsGiven() {
        daemon.json("POST /api/v1/vms", 201, DB);
        assertOk(run("vm", "create", "db"));
        assertEquals(json("{\"name\":\"db\"}"), json(daemon.only().body()));
    }

    @Test
    void createFromASnapshot() {
        daemon.json("POST /api/v1/vms", 201, DB);
        assertOk(run("vm", "create", "db2", "--from-snapshot", "web1/s1"));
        assertEquals(json("{\"name\":\"db2\",\"snapshot\":\"web1/s1\"}"), json(daemon.only().body()));
    }

    @Test
    void startPostsToTheVmsStartRoute() {
        daemon.json("POST /api/v1/vms/web1/start", 200, WEB1);
        Result r = run("vm", "start", "web1", "--token", "op");
        assertOk(r);
        assertEquals("web1: running\n", r.out());
        FakeDaemon.Request q = daemon.only();
        assertEquals("POST", q.method());
        assertEquals("/api/v1/vms/web1/start", q.path());
        assertEquals("Bearer op", q.authorization());
        assertEquals("", q.body());
    }

    @Test
    void lifecycleCommandsAndTheirRoutes() {
        Map<String, String> routes = Map.of("stop", "shutdown", "kill", "kill", "reboot", "reboot", "pause", "pause", "resume", "resume");
        routes.forEach((command, action) -> {
            daemon.requests.clear();
            daemon.json("POST /api/v1/vms/web1/" + action, 200, WEB1);
            assertOk(run("vm", command, "web1"));
            assertEquals("POST /api/v1/vms/web1/" + action, daemon.only().method() + " " + daemon.only().path());
        });
    }

    @Test
    void routesAndBodiesOfTheOtherCommands() {
        String snapshot = "{\"vm\":\"web1\",\"name\":\"s1\",\"path\":\"/var/lib/visor/snapshots/web1/s1\",\"ramBytes\":12345678,\"created\":\"2026-11-28T11:00:00Z\"}";
        daemon.json("PATCH /api/v1/vms/web1", 200, WEB1)
                .json("POST /api/v1/vms/web1/disks", 200, WEB1)
                .json("POST /api/v1/vms/web1/disks/vdb/resize", 200, "{\"device\":\"vdb\",\"sizeBytes\":2147483648}")
                .json("POST /api/v1/vms/web1/snapshots", 201, snapshot)
                .json("GET /api/v1/vms/web1/snapshots", 200, "[" + snapshot + "]")
                .text("DELETE /api/v1/vms/web1/snapshots/s1", 204, null, "")
                .text("DELETE /api/v1/vms/web1", 204, null, "")
                .json("POST /api/v1/vms/web1/migrate", 200, "{\"vm\":\"web1\",\"destination\":\"http://h2:7445\",\"totalMs\":1500,\"downtimeMs\":42}")
                .json("POST /api/v1/images", 201, "{\"name\":\"data.qcow2\",\"format\":\"qcow2\",\"virtualSize\":1073741824,\"fileSize\":196608,\"backing\":\"base.qcow2\",\"label\":null}")
                .text("DELETE /api/v1/images/data.qcow2", 204, null, "")
                .json("POST /api/v1/tokens", 201, "{\"name\":\"ci\",\"role\":\"operator\",\"created\":\"2026-11-28T12:00:00Z\",\"token\":\"visor_abc\"}")
                .text("DELETE /api/v1/tokens/ci", 204, null, "")
                .json("GET /api/v1/audit?limit=5", 200, "[]");
        record Case(String[] args, String route, String body, String out) {}
        List<Case> cases = List.of(
                new Case(new String[] {"vm", "update", "web1", "--no-autostart", "--restart", "always"},
                        "PATCH /api/v1/vms/web1", "{\"autostart\":false,\"restart\":\"always\"}", "web1: updated\n"),
                new Case(new String[] {"vm", "update", "web1", "--autostart", "--cpus", "4", "--memory", "2G", "--append", ""},
                        "PATCH /api/v1/vms/web1", "{\"autostart\":true,\"cpus\":4,\"memory\":\"2G\",\"append\":null}", "web1: updated\n"),
                new Case(new String[] {"vm", "disk", "attach", "web1", "seed.raw", "--readonly"},
                        "POST /api/v1/vms/web1/disks", "{\"image\":\"seed.raw\",\"readonly\":true}", "web1: seed.raw attached as vdb\n"),
                new Case(new String[] {"vm", "disk", "resize", "web1", "vdb", "2G"},
                        "POST /api/v1/vms/web1/disks/vdb/resize", "{\"size\":\"2G\"}", "web1 vdb: 2G (2147483648 bytes)\n"),
                new Case(new String[] {"vm", "snapshot", "web1", "s1"},
                        "POST /api/v1/vms/web1/snapshots", "{\"name\":\"s1\"}", "web1/s1: saved (RAM 11.8 MiB) in /var/lib/visor/snapshots/web1/s1\n"),
                new Case(new String[] {"vm", "snapshots", "web1"}, "GET /api/v1/vms/web1/snapshots", null,
                        "NAME  CREATED               RAM       PATH\ns1    2026-11-28T11:00:00Z  11.8 MiB  /var/lib/visor/snapshots/web1/s1\n"),
                new Case(new String[] {"vm", "snapshot-delete", "web1", "s1"}, "DELETE /api/v1/vms/web1/snapshots/s1", null, "web1/s1: deleted\n"),
                new Case(new String[] {"vm", "delete", "web1"}, "DELETE /api/v1/vms/web1", null, "web1: deleted\n"),
                new Case(new String[] {"vm", "migrate", "web1", "--to", "http://h2:7445", "--to-token", "t2", "--copy-storage", "--downtime", "100"},
                        "POST /api/v1/vms/web1/migrate", "{\"destination\":\"http://h2:7445\",\"token\":\"t2\",\"copyStorage\":true,\"downtimeMs\":100}",
                        "web1: migrated to http://h2:7445 in 1500 ms (downtime 42 ms)\n"),
                new Case(new String[] {"store", "create", "data.qcow2", "--format", "qcow2", "--size", "1G", "--backing", "base.qcow2"},
                        "POST /api/v1/images", "{\"name\":\"data.qcow2\",\"format\":\"qcow2\",\"size\":\"1G\",\"backing\":\"base.qcow2\"}",
                        "data.qcow2: created (qcow2, 1G)\n"),
                new Case(new String[] {"store", "delete", "data.qcow2"}, "DELETE /api/v1/images/data.qcow2", null, "data.qcow2: deleted\n"),
                new Case(new String[] {"token", "create", "ci", "--role", "operator"}, "POST /api/v1/tokens",
                        "{\"name\":\"ci\",\"role\":\"operator\"}", "visor_abc\n"),
                new Case(new String[] {"token", "delete", "ci"}, "DELETE /api/v1/tokens/ci", null, "ci: deleted\n"),
                new Case(new String[] {"audit", "--limit", "5"}, "GET /api/v1/audit?limit=5", null,
                        "ID  TIME  WHO  METHOD  PATH  STATUS  REMOTE\n"));
        for (Case c : cases) {
            daemon.requests.clear();
            Result r = run(c.args());
            String what = String.join(" ", c.args());
            assertEquals(0, r.status(), what + ": " + r.err());
            FakeDaemon.Request q = daemon.only();
            assertEquals(c.route(), q.method() + " " + q.path(), what);
            if (c.body() == null) assertEquals("", q.body(), what);
            else assertEquals(json(c.body()), json(q.body()), what);
            assertEquals(c.out(), r.out(), what);
        }
    }

    // ---- output formats

    @Test
    void listAsATable() {
        daemon.json("GET /api/v1/vms", 200, "[" + WEB1 + "," + DB + "]");
        Result r = run("vm", "list");
        assertOk(r);
        assertEquals("""
                NAME  STATE    CPUS  MEMORY  PID   AUTOSTART  RESTART
                web1  running  2     1G      4242  yes        on-failure
                db    stopped  1     512M    -     no         never
                """, r.out());
        assertEquals("", r.err());
        assertEquals("GET /api/v1/vms", daemon.only().method() + " " + daemon.only().path());
    }

    @Test
    void listAsJsonIsTheDaemonsJsonPrettyPrinted() {
        daemon.json("GET /api/v1/vms", 200, "[" + WEB1 + "," + DB + "]");
        Result r = run("vm", "list", "-o", "json");
        assertOk(r);
        assertEquals(json("[" + WEB1 + "," + DB + "]"), json(r.out()));
        assertTrue(r.out().lines().count() > 20, "pretty-printed: " + r.out());
        assertTrue(r.out().startsWith("[ {\n") || r.out().startsWith("[\n"), r.out());
    }

    @Test
    void showIsOneFieldALine() {
        daemon.json("GET /api/v1/vms/web1", 200, WEB1);
        Result r = run("vm", "show", "web1");
        assertOk(r);
        assertTrue(r.out().startsWith("name:       web1\nid:         3\nstate:      running\n"), r.out());
        assertTrue(r.out().contains("\ndisks:      vda data.qcow2, vdb seed.raw (readonly)\n"), r.out());
        assertTrue(r.out().contains("\nmemory:     1G\n"), r.out());
        assertTrue(r.out().contains("\npid:        4242\n"), r.out());
        assertTrue(r.out().contains("\nappend:     (default)\n"), r.out());
    }

    @Test
    void storeListAndTokenListAndHost() {
        daemon.json("GET /api/v1/images", 200, """
                [{"name":"data.qcow2","format":"qcow2","virtualSize":1073741824,"fileSize":196608,"backing":null,"label":"visor-vm-3"},
                 {"name":"seed.raw","format":"raw","virtualSize":1048576,"fileSize":1048576,"backing":null,"label":null}]""");
        daemon.json("GET /api/v1/tokens", 200, "[{\"name\":\"admin\",\"role\":\"admin\",\"created\":\"2026-11-28T09:00:00Z\"}]");
        daemon.json("GET /api/v1/host", 200, """
                {"hostname":"h1","version":"0.1.0","cpuModel":"Some CPU","cores":2,"memoryBytes":8589934592,
                 "memoryAvailableBytes":4294967296,"loadAverage":[0.1,0.2,0.3],
                 "temperatures":[{"sensor":"x86_pkg_temp","celsius":41.0}],"cgroupV2":false,
                 "vms":{"total":3,"running":1},"stateDir":"/var/lib/visor"}""");
        assertEquals("""
                NAME        FORMAT  SIZE  ON DISK  BACKING  LABEL
                data.qcow2  qcow2   1G    192 KiB  -        visor-vm-3
                seed.raw    raw     1M    1.0 MiB  -        -
                """, run("store", "list").out());
        assertEquals("""
                NAME   ROLE   CREATED
                admin  admin  2026-11-28T09:00:00Z
                """, run("token", "list").out());
        String host = run("host").out();
        assertTrue(host.startsWith("hostname:     h1\nversion:      0.1.0\ncpu:          Some CPU\ncores:        2\n"), host);
        assertTrue(host.contains("\nmemory:       8.0 GiB (4.0 GiB available)\n"), host);
        assertTrue(host.contains("\nload:         0.10 0.20 0.30\n"), host);
        assertTrue(host.contains("\ntemperatures: x86_pkg_temp 41.0 C\n"), host);
        assertTrue(host.contains("\nvms:          3 (1 running)\n"), host);
        assertEquals("h1", json(run("host", "-o", "json").out()).path("hostname").asText());
    }

    @Test
    void tokenCreatePrintsTheSecretAloneOnStdout() {
        daemon.json("POST /api/v1/tokens", 201, "{\"name\":\"ci\",\"role\":\"viewer\",\"created\":\"2026-11-28T12:00:00Z\",\"token\":\"visor_s3cret\"}");
        Result r = run("token", "create", "ci", "--role", "viewer");
        assertOk(r);
        assertEquals("visor_s3cret\n", r.out());
        assertEquals(List.of("visor: token 'ci' (viewer) created; its secret is shown only this once"), r.errLines());
    }

    @Test
    void logWritesTheScrollBackAsItIs() {
        daemon.text("GET /api/v1/vms/web1/console/log?bytes=100", 200, "text/plain", "login: \u2500 ok\r\n");
        Result r = run("vm", "log", "web1", "--bytes", "100");
        assertOk(r);
        assertEquals("login: \u2500 ok\r\n", r.stdout());
        daemon.requests.clear();
        daemon.text("GET /api/v1/vms/web1/console/log", 200, "text/plain", "x");
        assertOk(run("vm", "log", "web1"));
        assertEquals("/api/v1/vms/web1/console/log", daemon.only().path());
    }

    @Test
    void eventsAreOneLineEach() {
        daemon.custom("GET /api/v1/events", ex -> {
            try {
                ex.getResponseHeaders().set("Content-Type", "text/event-stream");
                ex.sendResponseHeaders(200, 0);
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(("""
                            : keep-alive

                            event: state
                            data: {"time":"2026-11-28T10:00:05Z","vm":"web1","type":"state","state":"running","detail":null}

                            event: snapshot
                            data: {"time":"2026-11-28T10:01:00Z","vm":"web1","type":"snapshot","state":null,
                            data: "detail":"s1"}

                            """).getBytes(StandardCharsets.UTF_8));
                }
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        Result r = run("events");
        assertEquals("""
                2026-11-28T10:00:05Z web1 state running
                2026-11-28T10:01:00Z web1 snapshot - s1
                """, r.out());
        assertEquals(1, r.status());
        assertEquals(List.of("visor: the daemon at " + daemon.url() + " ended the event stream"), r.errLines());
        Result j = run("events", "-o", "json");
        assertEquals(2, j.out().lines().count(), j.out());
        assertEquals("s1", json(j.out().lines().toList().get(1)).path("detail").asText());
    }

    // ---- errors

    @Test
    void aConflictIsTheDaemonsMessageAndStatus1() {
        daemon.json("DELETE /api/v1/vms/web1", 409, "{\"error\":\"VM web1 is running: stop it first\"}");
        assertError(run("vm", "delete", "web1"), 1, "visor: VM web1 is running: stop it first");
    }

    @Test
    void invalidInputNamesTheField() {
        daemon.json("POST /api/v1/vms", 400, "{\"error\":\"must be at least 16M (got '1K')\",\"field\":\"memory\"}");
        assertError(run("vm", "create", "web1", "--memory", "1K"), 1, "visor: memory: must be at least 16M (got '1K')");
    }

    @Test
    void anUnreachableDaemon() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        String url = "http://127.0.0.1:" + port;
        assertError(run("vm", "list", "--daemon", url), 1, "visor: cannot reach the daemon at " + url + " (is 'visor daemon' running?)");
        vars.put("VISOR_DAEMON", "127.0.0.1:" + port + "/");
        assertError(run("host"), 1, "visor: cannot reach the daemon at " + url + " (is 'visor daemon' running?)");
    }

    @Test
    void unauthorizedWithoutAToken() {
        daemon.json("GET /api/v1/vms", 401, "{\"error\":\"missing bearer token\"}");
        Result r = run("vm", "list");
        assertNull(daemon.only().authorization());
        assertError(r, 1, "visor: missing bearer token (no token: give one with --token or VISOR_TOKEN, or run where "
                + home.resolve(".local/share/visor/admin.token") + " is readable)");
        daemon.requests.clear();
        assertError(run("vm", "list", "--token", "bad"), 1, "visor: missing bearer token (the daemon refused the token from --token)");
    }

    @Test
    void forbiddenNamesTheRoleNeeded() {
        daemon.json("POST /api/v1/vms", 403, "{\"error\":\"the token 'ci' is an operator token\"}");
        vars.put("VISOR_TOKEN", "t");
        assertError(run("vm", "create", "web1"), 1,
                "visor: the token 'ci' is an operator token (this needs a token with the admin role; the token from VISOR_TOKEN has a lower one)");
        daemon.json("POST /api/v1/vms/web1/start", 403, "{\"error\":\"forbidden\"}");
        assertError(run("vm", "start", "web1"), 1,
                "visor: forbidden (this needs a token with the operator role or higher; the token from VISOR_TOKEN has a lower one)");
    }

    @Test
    void anAnswerThatIsNotJson() {
        daemon.text("GET /api/v1/vms", 502, "text/html", "<html>bad gateway</html>");
        assertError(run("vm", "list"), 1, "visor: the daemon answered HTTP 502 (is 'visor daemon' running behind the proxy?)");
    }

    @Test
    void usageErrorsAreStatus2() {
        Result r = run("vm", "create", "web1", "--restart", "sometimes");
        assertEquals(2, r.status());
        assertEquals("visor: --restart must be never, on-failure or always (got 'sometimes')", r.errLines().getFirst());
        assertEquals(2, run("vm", "create", "web1", "--disk", "a.qcow2,cache=none").status());
        assertEquals(2, run("vm", "update", "web1").status());
        assertEquals(2, run("store", "create", "x", "--format", "vmdk", "--size", "1G").status());
        assertEquals(2, run("token", "create", "x", "--role", "root").status());
        assertEquals(2, run("vm", "migrate", "web1").status());
        Result url = run("vm", "list", "--daemon", "ftp://h");
        assertEquals(2, url.status());
        assertEquals("visor: --daemon: 'ftp://h' is not a daemon URL (use e.g. http://127.0.0.1:7445)", url.errLines().getFirst());
        assertTrue(daemon.requests.isEmpty(), "nothing sent: " + daemon.requests);
    }

    // ---- where the daemon and the token come from

    @Test
    void tokenOrderFlagThenEnvThenFile() throws IOException {
        daemon.json("GET /api/v1/vms", 200, "[]");
        Path state = Files.createDirectories(dir.resolve("state"));
        Files.writeString(state.resolve("admin.token"), "from-file\n");
        vars.put("VISOR_STATE_DIR", state.toString());
        vars.put("VISOR_TOKEN", "from-env");
        assertEquals("Bearer from-flag", authorization("vm", "list", "--token", "from-flag"));
        assertEquals("Bearer from-env", authorization("vm", "list"));
        vars.remove("VISOR_TOKEN");
        assertEquals("Bearer from-file", authorization("vm", "list"));
        vars.remove("VISOR_STATE_DIR");
        assertNull(authorization("vm", "list"), "no token in ~/.local/share/visor yet");
        Path userState = Files.createDirectories(home.resolve(".local/share/visor"));
        Files.writeString(userState.resolve("admin.token"), "from-user-state");
        assertEquals("Bearer from-user-state", authorization("vm", "list"));
        root = true; // root's state directory is /var/lib/visor, not the home's
        String system = authorization("vm", "list");
        assertFalse("Bearer from-user-state".equals(system), system);
    }

    @Test
    void aTokenWithSpacesIsRefusedBeforeSending() {
        vars.put("VISOR_TOKEN", "visor_abc\n$ more");
        assertError(run("vm", "list"), 1, "visor: the token from VISOR_TOKEN is not a token (it has spaces or control characters)");
        assertError(run("vm", "list", "--token", "a b"), 2, "visor: the token from --token is not a token (it has spaces or control characters)");
        assertTrue(daemon.requests.isEmpty());
    }

    @Test
    void daemonOrderFlagThenEnvThenDefault() throws IOException {
        daemon.json("GET /api/v1/vms", 200, "[]");
        vars.put("VISOR_DAEMON", "http://127.0.0.1:1");
        assertOk(run("vm", "list", "--daemon", daemon.url()));
        vars.put("VISOR_DAEMON", daemon.url() + "/");
        assertOk(run("vm", "list"));
        assertEquals(2, daemon.requests.size());
        vars.remove("VISOR_DAEMON");
        DaemonOptions defaults = new DaemonOptions(new DaemonEnvironment(vars, home, false));
        assertEquals(DaemonOptions.DEFAULT_URL, defaults.url().toString());
    }

    private String authorization(String... args) {
        daemon.requests.clear();
        assertOk(run(args));
        return daemon.only().authorization();
    }

    // ---- the console

    @Test
    void consolePipesStdinAndPrintsOutputUntilQuiet() throws IOException {
        try (FakeConsoleServer ws = new FakeConsoleServer("scroll-back\r\n", 0)) {
            long t0 = System.nanoTime();
            Result r = runWithStdin(new ByteArrayInputStream("uname\n".getBytes(StandardCharsets.UTF_8)),
                    "vm", "console", "web1", "--daemon", ws.url(), "--token", "op");
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertOk(r);
            assertEquals("scroll-back\r\necho:uname\n", r.stdout());
            assertEquals("uname\n", ws.typed());
            assertEquals("GET /api/v1/vms/web1/console HTTP/1.1", ws.requestLines.getFirst());
            assertEquals("Bearer op", ws.header("Authorization"));
            assertTrue(ms >= 900 && ms < 10_000, "ends a second after the output went quiet: " + ms + " ms");
        }
    }

    @Test
    void consoleWithoutStdinRunsUntilTheTimeout() throws IOException {
        try (FakeConsoleServer ws = new FakeConsoleServer("boot log\n", 0)) {
            Result r = runWithStdin(new ByteArrayInputStream("ignored\n".getBytes(StandardCharsets.UTF_8)),
                    "vm", "console", "web1", "--daemon", ws.url(), "--no-stdin", "--timeout", "0.5");
            assertOk(r);
            assertEquals("boot log\n", r.stdout());
            assertEquals("", ws.typed());
        }
    }

    @Test
    void consoleOfAnUnknownVm() throws IOException {
        try (FakeConsoleServer ws = new FakeConsoleServer("", 404)) {
            Result r = run("vm", "console", "nope", "--daemon", ws.url());
            assertEquals(1, r.status(), r.err());
            assertEquals(List.of("visor: no VM 'nope'"), r.errLines());
        }
    }

    @Test
    void consoleOfAStoppedVm() throws IOException {
        try (FakeConsoleServer ws = new FakeConsoleServer("", 0, 4404)) {
            Result r = run("vm", "console", "web1", "--daemon", ws.url());
            assertEquals(1, r.status(), r.err());
            assertEquals(List.of("visor: VM 'web1' has no running VMM"), r.errLines());
        }
    }

    @Test
    void storeCreateOverABackingImageNeedsNoSize() {
        daemon.json("POST /api/v1/images", 201, "{\"name\":\"web1.qcow2\",\"format\":\"qcow2\",\"virtualSize\":2147483648,\"fileSize\":196608,\"backing\":\"base.qcow2\",\"label\":null}");
        Result r = run("store", "create", "web1.qcow2", "--format", "qcow2", "--backing", "base.qcow2");
        assertOk(r);
        assertEquals("web1.qcow2: created (qcow2, 2G)\n", r.out());
        assertEquals(json("{\"name\":\"web1.qcow2\",\"format\":\"qcow2\",\"backing\":\"base.qcow2\"}"), json(daemon.only().body()));
        daemon.requests.clear();
        assertError(run("store", "create", "x.qcow2", "--format", "qcow2"), 2, "visor: --size is required (unless the image has a --backing image)");
        assertError(run("store", "create", "x.raw", "--format", "raw", "--backing", "base.qcow2"), 2, "visor: --backing goes with --format qcow2");
        assertTrue(daemon.requests.isEmpty());
    }

    // ---- the command tree

    @Test
    void theDaemonCommandsAreRegistered() {
        Result r = run("--help");
        for (String c : List.of("vm", "store", "host", "token", "events", "audit")) {
            assertTrue(r.out().contains("\n  " + c + " "), c + " in: " + r.out());
        }
        Result vm = run("vm", "--help");
        for (String c : List.of("create", "list", "show", "start", "stop", "kill", "reboot", "pause", "resume", "delete", "update",
                "disk", "snapshot", "snapshots", "snapshot-delete", "migrate", "console", "log")) {
            assertTrue(vm.out().contains("\n  " + c + " ") || vm.out().contains("\n  " + c + ","), c + " in: " + vm.out());
        }
    }
}
