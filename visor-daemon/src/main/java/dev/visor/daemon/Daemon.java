package dev.visor.daemon;

import dev.visor.daemon.api.ApiServer;
import dev.visor.daemon.events.EventBus;
import dev.visor.daemon.images.ImageStore;
import dev.visor.daemon.model.Role;
import dev.visor.daemon.model.VmRecord;
import dev.visor.daemon.monitor.HostInfo;
import dev.visor.daemon.monitor.HostInventory;
import dev.visor.daemon.monitor.MetricsExporter;
import dev.visor.daemon.monitor.VmSample;
import dev.visor.daemon.store.AuditLog;
import dev.visor.daemon.store.Database;
import dev.visor.daemon.store.SnapshotStore;
import dev.visor.daemon.store.StoreException;
import dev.visor.daemon.store.TokenStore;
import dev.visor.daemon.store.VmStore;
import dev.visor.daemon.vm.Supervisor;
import dev.visor.daemon.vm.VmmLauncher;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * visord: one per host. Keeps VM definitions in SQLite, runs each VM as its own supervised VMM
 * process, and serves the REST API. Stopping the daemon leaves the VMs running; the next daemon
 * re-attaches to them.
 *
 * <pre>
 *   try (Daemon d = Daemon.start(config)) { ... d.port() ... }
 * </pre>
 */
public final class Daemon implements AutoCloseable {
    public static final String VERSION = "0.1.0";

    /**
     * @param stateDir    where everything is kept (see {@link DaemonPaths})
     * @param bindHost    the API's address (127.0.0.1: this host only)
     * @param port        the API's port (0: any free one)
     * @param vmmCommand  the command that runs {@code visor} (a VMM is this + "run" + options)
     * @param vmmEnv      extra environment for VMM processes
     */
    public record Config(Path stateDir, String bindHost, int port, List<String> vmmCommand, Map<String, String> vmmEnv) {}

    private final DaemonPaths paths;
    private final Database db;
    private final Supervisor supervisor;
    private final ApiServer api;
    private final int port;

    private Daemon(DaemonPaths paths, Database db, Supervisor supervisor, ApiServer api, int port) {
        this.paths = paths;
        this.db = db;
        this.supervisor = supervisor;
        this.api = api;
        this.port = port;
    }

    public static Daemon start(Config config) throws IOException, StoreException, DaemonException {
        DaemonPaths paths = new DaemonPaths(config.stateDir());
        createPrivateDir(paths.stateDir());
        Database db = Database.open(paths.database());
        try {
            VmStore vms = new VmStore(db);
            TokenStore tokens = new TokenStore(db);
            AuditLog audit = new AuditLog(db);
            SnapshotStore snapshots = new SnapshotStore(db);
            ImageStore images = new ImageStore(paths.images());
            EventBus events = new EventBus();
            firstAdminToken(paths, tokens);
            VmmLauncher launcher = new VmmLauncher(config.vmmCommand(), paths, images, config.vmmEnv());
            Supervisor supervisor = new Supervisor(paths, vms, snapshots, images, launcher, events);
            HostInventory inventory = new HostInventory();
            MetricsExporter metrics = new MetricsExporter(() -> samples(supervisor), inventory);
            ApiServer api = new ApiServer(supervisor, tokens, audit, events, images, () -> host(inventory, supervisor, paths),
                    metrics::scrape, metrics.contentType());
            supervisor.recover();
            int port = api.start(config.bindHost(), config.port());
            return new Daemon(paths, db, supervisor, api, port);
        } catch (IOException | StoreException | DaemonException | RuntimeException e) {
            db.close();
            throw e;
        }
    }

    public int port() { return port; }

    public DaemonPaths paths() { return paths; }

    /** Stops serving; the VMs keep running. */
    @Override
    public void close() {
        api.close();
        supervisor.close();
        db.close();
    }

    private static void createPrivateDir(Path dir) throws IOException {
        Files.createDirectories(dir);
        try {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        } catch (UnsupportedOperationException ignored) {
            // not POSIX: the directory's own permissions have to do
        }
    }

    /** At the first start (no tokens yet) makes an admin token and writes it to admin.token, 0600. */
    private static void firstAdminToken(DaemonPaths paths, TokenStore tokens) throws StoreException, IOException {
        if (!tokens.isEmpty()) return;
        String secret = tokens.create("admin", Role.ADMIN);
        Path f = paths.adminToken();
        Files.deleteIfExists(f);
        Files.createFile(f, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(f, secret + "\n", StandardOpenOption.TRUNCATE_EXISTING);
        System.err.println("visord: created the admin token in " + f);
    }

    /** One sample per VM; the VMMs are asked in parallel (a virtual thread each) so a scrape of many VMs takes one round trip. */
    private static List<VmSample> samples(Supervisor supervisor) {
        List<VmRecord> vms;
        try {
            vms = supervisor.list();
        } catch (DaemonException e) {
            System.err.println("visord: metrics: " + e.getMessage());
            return List.of();
        }
        List<VmSample> out = new ArrayList<>();
        try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
            List<java.util.concurrent.Future<VmSample>> futures = new ArrayList<>();
            for (VmRecord r : vms) futures.add(pool.submit(() -> sample(supervisor, r)));
            for (var f : futures) {
                try {
                    out.add(f.get());
                } catch (java.util.concurrent.ExecutionException e) {
                    System.err.println("visord: metrics: " + e.getCause());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return out;
    }

    private static VmSample sample(Supervisor supervisor, VmRecord r) {
        String state = r.state().apiName();
        String stats = supervisor.stats(r);
        long mem = r.definition().memoryBytes();
        return stats == null ? VmSample.idle(r.name(), state, mem, r.restarts())
                : VmSample.parseStats(r.name(), state, stats, VmSample.residentBytes(r.pid()), mem, r.restarts());
    }

    private static Map<String, Object> host(HostInventory inventory, Supervisor supervisor, DaemonPaths paths) {
        HostInfo h = inventory.info();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("hostname", h.hostname());
        m.put("version", VERSION);
        m.put("cpuModel", h.cpuModel());
        m.put("cores", h.cores());
        m.put("memoryBytes", h.memoryBytes());
        m.put("memoryAvailableBytes", h.memoryAvailableBytes());
        m.put("loadAverage", h.loadAverage());
        m.put("temperatures", h.temperatures().stream().map(t -> Map.of("sensor", t.sensor(), "celsius", t.celsius())).toList());
        m.put("cgroupV2", h.cgroupV2());
        int total = 0, running = 0;
        try {
            for (VmRecord r : supervisor.list()) {
                total++;
                if (r.state().active()) running++;
            }
        } catch (DaemonException ignored) {
            // counts stay 0
        }
        m.put("vms", Map.of("total", total, "running", running));
        m.put("stateDir", paths.stateDir().toString());
        return m;
    }
}
