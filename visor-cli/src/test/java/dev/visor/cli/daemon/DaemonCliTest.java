package dev.visor.cli.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import dev.visor.cli.Images;
import dev.visor.cli.Main;
import dev.visor.cli.remote.DaemonEnvironment;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The {@code visor} commands an operator types, against a real daemon: an image and a VM made,
 * listed and shown (tables and JSON), the guest booted and used through {@code visor vm console},
 * a viewer token refused for a change, the VM stopped and deleted.
 */
class DaemonCliTest {
    @TempDir
    Path dir;

    private DaemonProcess daemon;

    @AfterEach
    void stop() throws InterruptedException {
        DaemonProcess.killVmms(dir);
        if (daemon != null) daemon.close();
    }

    record Result(int status, String out, String err, String stdout) {}

    /** One {@code visor} command line, in this process, as the daemon's user (token from the state directory). */
    private Result visor(String stdin, String... args) {
        PrintStream savedOut = System.out;
        InputStream savedIn = System.in;
        ByteArrayOutputStream stdout = new ByteArrayOutputStream();
        System.setOut(new PrintStream(stdout, true, StandardCharsets.UTF_8));
        System.setIn(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)));
        StringWriter out = new StringWriter(), err = new StringWriter();
        try {
            var env = new DaemonEnvironment(Map.of("VISOR_DAEMON", daemon.url, "VISOR_STATE_DIR", daemon.stateDir.toString()),
                    dir, false);
            CommandLine cl = Main.commandLine(Images.store(), env);
            cl.setOut(new PrintWriter(out, true));
            cl.setErr(new PrintWriter(err, true));
            int status = cl.execute(args);
            return new Result(status, out.toString(), err.toString(), stdout.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(savedOut);
            System.setIn(savedIn);
        }
    }

    private Result ok(String... args) {
        Result r = visor("", args);
        assertEquals(0, r.status(), String.join(" ", args) + ": " + r.err() + r.out());
        return r;
    }

    @Test
    void anOperatorsSessionWithTheCli() throws Exception {
        assumeTrue(DaemonEndToEndTest.defaultImageCached(), "no default image in the cache");
        daemon = DaemonProcess.start(dir.resolve("state"));

        ok("store", "create", "disk.qcow2", "--format", "qcow2", "--size", "32M");
        assertTrue(ok("store", "list").out().contains("disk.qcow2"));
        ok("vm", "create", "g", "--memory", "256M", "--net", "none", "--disk", "disk.qcow2", "--restart", "on-failure");
        String table = ok("vm", "list").out();
        assertTrue(table.lines().anyMatch(l -> l.startsWith("NAME")) && table.contains("stopped"), table);
        JsonNode shown = DaemonProcess.JSON.readTree(ok("vm", "show", "g", "-o", "json").out());
        assertEquals("on-failure", shown.get("restart").asText());
        assertEquals(256L << 20, shown.get("memoryBytes").asLong());

        // a viewer may look but not change
        String viewer = ok("token", "create", "watcher", "--role", "viewer").out().strip();
        Result refused = visor("", "vm", "delete", "g", "--token", viewer);
        assertEquals(1, refused.status());
        assertTrue(refused.err().startsWith("visor: ") && refused.err().contains("viewer"), refused.err());
        assertEquals(0, visor("", "vm", "list", "--token", viewer).status());

        ok("vm", "start", "g");
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
        while (!ok("vm", "log", "g").stdout().contains("visor: shell ready")) {
            assertTrue(System.nanoTime() < end, "the guest's shell never came up");
            Thread.sleep(500);
        }
        Result console = visor("echo cli-$((6*7))\n", "vm", "console", "g", "--timeout", "60");
        assertTrue(console.stdout().contains("cli-42"), console.stdout() + console.err());

        ok("vm", "stop", "g");
        assertEquals("stopped", DaemonProcess.JSON.readTree(ok("vm", "show", "g", "-o", "json").out()).get("state").asText());
        ok("vm", "delete", "g");
        Result gone = visor("", "vm", "show", "g");
        assertEquals(1, gone.status());
        assertTrue(gone.err().contains("no VM named 'g'"), gone.err());
    }
}
