package dev.visor.daemon.security;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * A stand-in VMM for {@link IsolationRootTest}, started as {@code visor run ...} would be: reports
 * who it runs as and what it can read and write (paths in $PROBE_READ and $PROBE_WRITE, separated
 * by ':'), optionally takes a "snapshot" as the real VMM does ($PROBE_SNAPSHOT: SNAP.tmp renamed to
 * SNAP; $PROBE_OVERLAY: a new file in images/), writes the report to RUN/probe and waits to be killed.
 */
public final class ProbeVmm {
    public static void main(String[] args) throws Exception {
        Path run = null;
        for (int i = 0; i + 1 < args.length; i++) if (args[i].equals("--exit-status-file")) run = Path.of(args[i + 1]).getParent();
        StringBuilder r = new StringBuilder();
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("Uid:") || line.startsWith("Gid:") || line.startsWith("Groups:") || line.startsWith("CapEff:")
                    || line.startsWith("CapBnd:") || line.startsWith("NoNewPrivs:")) r.append(line.replaceAll("\\s+", " ").strip()).append('\n');
        }
        for (String p : list("PROBE_READ")) r.append("read ").append(p).append(' ').append(canRead(Path.of(p))).append('\n');
        for (String p : list("PROBE_WRITE")) r.append("write ").append(p).append(' ').append(canWrite(Path.of(p))).append('\n');
        try {
            Class.forName("com.fasterxml.jackson.databind.ObjectMapper"); // from a jar in ~/.m2: the staged class path works
            r.append("jackson ok\n");
        } catch (Throwable e) {
            r.append("jackson ").append(e).append('\n');
        }
        if (System.getenv("PROBE_SNAPSHOT") != null) r.append("snapshot ").append(snapshot()).append('\n');
        r.append("home ").append(System.getenv("HOME")).append('\n');
        r.append("cache ").append(System.getenv("VISOR_CACHE")).append('\n');
        Path tmp = run.resolve("probe.tmp");
        Files.writeString(tmp, r.toString());
        Files.move(tmp, run.resolve("probe"), StandardCopyOption.ATOMIC_MOVE);
        Thread.sleep(300_000);
    }

    private static List<String> list(String env) {
        String v = System.getenv(env);
        return v == null || v.isEmpty() ? List.of() : List.of(v.split(":"));
    }

    static String canRead(Path p) {
        try {
            if (Files.isDirectory(p)) {
                try (var s = Files.list(p)) {
                    s.count();
                }
            } else {
                try (InputStream in = Files.newInputStream(p)) {
                    in.read();
                }
            }
            return "ok";
        } catch (IOException e) {
            return "denied";
        }
    }

    static String canWrite(Path p) {
        try {
            if (Files.isDirectory(p)) {
                Path f = Files.createTempFile(p, "probe", ".tmp");
                Files.delete(f);
            } else {
                try (FileChannel c = FileChannel.open(p, StandardOpenOption.WRITE)) {
                    c.size();
                }
            }
            return "ok";
        } catch (IOException e) {
            return "denied";
        }
    }

    private static String snapshot() {
        try {
            Path dir = Path.of(System.getenv("PROBE_SNAPSHOT"));
            Path tmp = dir.resolveSibling(dir.getFileName() + ".tmp");
            Files.createDirectories(tmp);
            Files.writeString(tmp.resolve("ram"), "guest RAM");
            Files.writeString(tmp.resolve("state"), "device state");
            Files.writeString(tmp.resolve("manifest"), System.getenv("PROBE_MANIFEST"));
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            Files.writeString(Path.of(System.getenv("PROBE_OVERLAY")), "new overlay");
            return "ok";
        } catch (IOException e) {
            return "failed " + e;
        }
    }
}
