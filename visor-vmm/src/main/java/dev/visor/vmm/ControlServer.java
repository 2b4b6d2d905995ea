package dev.visor.vmm;

import dev.visor.devices.virtio.blk.VirtioBlk;
import dev.visor.devices.virtio.net.VirtioNet;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

import dev.visor.vmm.migration.MigrationException;
import dev.visor.vmm.migration.MigrationProgress;
import dev.visor.vmm.migration.MigrationProtocol;
import dev.visor.vmm.migration.MigrationSource;

/**
 * A per-VM control socket (a Unix socket only this user can reach): one command per line, one
 * answer line per command, starting with "ok" or "error:". The small stand-in for QEMU's monitor
 * until the daemon's API exists.
 *
 * <pre>
 *   info                      → ok memory=536870912 disks=vda:1073741824 balloon=0
 *   resize vda 2G             → ok vda 2147483648     (grows the image; the guest sees it at once)
 *   balloon 256M              → ok target=268435456   (guest memory after inflating)
 *   balloon                   → ok actual=...         (what the guest has given back so far)
 *   pause / resume            → ok paused / ok running (the guest sees no time pass meanwhile)
 *   status                    → ok running | ok paused
 *   snapshot [--paused] DIR   → ok DIR ram=BYTES state=BYTES pause_ms=N [disks=OVERLAY|-,...]   (see {@link Snapshot}; DIR absolute)
 *   migrate tcp:HOST:PORT [downtime=MS] [copy-storage=on]
 *                             → ok migrated total_ms=.. downtime_ms=.. rounds=.. sent_mb=.. ... last_byte_ms=..  (blocks; see
 *                               {@link MigrationSource}); after the answer this VM stops: its guest runs at the destination.
 *                               copy-storage=on: the writable disks are copied too (no shared storage)
 *   migrate-status            → ok phase=precopy round=3 sent_mb=.. dirty_rate_mbps=.. expected_downtime_ms=.. | ok none
 *   stats                     → ok instret=N vcpu_ns=N disk_read_bytes=N disk_write_bytes=N disk_read_ops=N
 *                               disk_write_ops=N net_rx_bytes=N net_tx_bytes=N net_rx_packets=N net_tx_packets=N
 *                               memory=N state=running|paused   (one line; counters since this process began,
 *                               summed over vCPUs, disks and NICs; instret is the guest's own, so it goes on
 *                               after a restore, vcpu_ns is host CPU time of the vCPU threads)
 *   quit                      → ok stopping   (then the disks are flushed and the VM stops: its visor run exits 0)
 * </pre>
 */
public final class ControlServer implements AutoCloseable {
    private final VirtualMachine vm;
    private final Path path;
    private final ServerSocketChannel server;
    /** The last (or current) outgoing migration, for migrate-status; null before the first. */
    private volatile MigrationProgress migration;
    /** A migration completed: the VM stops once the answer is written. */
    private volatile boolean migratedAway;
    /** {@code quit} was asked: the VM stops once the answer is written. */
    private volatile boolean quitting;

    private ControlServer(VirtualMachine vm, Path path, ServerSocketChannel server) {
        this.vm = vm;
        this.path = path;
        this.server = server;
    }

    public static ControlServer start(VirtualMachine vm, Path path) throws VmConfigException {
        try {
            Files.deleteIfExists(path);
            ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(path));
            try {
                Files.setPosixFilePermissions(path, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            } catch (UnsupportedOperationException ignored) {
                // not a POSIX file system: the directory's permissions have to do
            }
            ControlServer c = new ControlServer(vm, path, server);
            Thread.ofVirtual().name("visor-control").start(c::acceptLoop);
            return c;
        } catch (IOException e) {
            throw new VmConfigException("--control " + path + ": " + e.getMessage(), e);
        }
    }

    private void acceptLoop() {
        while (server.isOpen()) {
            try {
                SocketChannel client = server.accept();
                Thread.ofVirtual().start(() -> serve(client));
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private void serve(SocketChannel client) {
        try (client;
             BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(client), StandardCharsets.UTF_8));
             OutputStream out = Channels.newOutputStream(client)) {
            String line;
            while ((line = in.readLine()) != null) {
                if (line.length() > 4096) break;
                out.write((execute(line.strip()) + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
                if (migratedAway) {
                    vm.stop(); // its guest runs at the destination now
                    return;
                }
                if (quitting) {
                    vm.quit(); // after the answer, so the client hears it before the socket goes away
                    return;
                }
            }
        } catch (IOException ignored) {
            // the client went away
        }
    }

    /** Runs one command and returns its answer line. */
    public String execute(String command) {
        String[] w = command.isEmpty() ? new String[0] : command.split("\\s+");
        try {
            if (w.length == 0) return "error: empty command (try: " + COMMANDS + ")";
            return switch (w[0].toLowerCase(Locale.ROOT)) {
                case "info" -> info();
                case "resize" -> resize(w);
                case "balloon" -> balloon(w);
                case "pause" -> {
                    vm.pause();
                    yield "ok paused";
                }
                case "resume" -> {
                    vm.resume();
                    yield "ok running";
                }
                case "status" -> vm.isPaused() ? "ok paused" : "ok running";
                case "snapshot" -> {
                    if (migrating()) yield "error: a migration is running (migrate-status); snapshot after it";
                    yield snapshot(command.substring(w[0].length()).strip());
                }
                case "migrate" -> migrate(w);
                case "migrate-status" -> migration == null ? "ok none" : "ok " + migration;
                case "stats" -> stats();
                case "quit" -> {
                    if (migrating()) yield "error: a migration is running (migrate-status); quit after it";
                    quitting = true;
                    yield "ok stopping";
                }
                default -> "error: unknown command '" + w[0] + "' (try: " + COMMANDS + ")";
            };
        } catch (java.nio.file.FileSystemException e) {
            return "error: " + e.getFile() + ": " + (e.getReason() != null ? e.getReason() : e.getClass().getSimpleName());
        } catch (IOException | IllegalArgumentException | IllegalStateException e) {
            return "error: " + String.valueOf(e.getMessage()).replace('\n', ' ');
        }
    }

    static final String COMMANDS = "info, status, pause, resume, snapshot [--paused] DIR, resize DISK SIZE, balloon [SIZE], "
            + "migrate tcp:HOST:PORT [downtime=MS] [copy-storage=on], migrate-status, stats, quit";

    private static final String MIGRATE_USAGE = "error: usage: migrate tcp:HOST:PORT [downtime=MS] [copy-storage=on]";

    private String migrate(String[] w) {
        if (w.length < 2 || w.length > 4) return MIGRATE_USAGE;
        MigrationSource.Options options = MigrationSource.Options.DEFAULT;
        for (int i = 2; i < w.length; i++) {
            String arg = w[i].toLowerCase(Locale.ROOT);
            if (arg.startsWith("downtime=")) {
                try {
                    long ms = Long.parseLong(arg.substring("downtime=".length()));
                    if (ms < 1) throw new NumberFormatException();
                    options = options.withDowntime(ms);
                } catch (NumberFormatException e) {
                    return "error: downtime must be a number of milliseconds, e.g. downtime=300";
                }
            } else if (arg.startsWith("copy-storage=")) {
                options = switch (arg.substring("copy-storage=".length())) {
                    case "on", "true", "yes" -> options.withCopyStorage(true);
                    case "off", "false", "no" -> options.withCopyStorage(false);
                    default -> null;
                };
                if (options == null) return "error: copy-storage must be on or off";
            } else {
                return MIGRATE_USAGE;
            }
        }
        var to = MigrationProtocol.parseAddress(w[1]);
        MigrationProgress progress;
        synchronized (this) {
            if (migration != null && !isOver(migration)) return "error: a migration is running already (migrate-status)";
            progress = new MigrationProgress();
            migration = progress;
        }
        try {
            MigrationSource.Result r = MigrationSource.migrate(vm, to, options, progress, m -> System.err.println("visor: " + m));
            migratedAway = true;
            return "ok migrated " + r;
        } catch (MigrationException e) {
            return "error: migration failed, the VM runs on here: " + e.getMessage();
        }
    }

    private boolean migrating() {
        MigrationProgress p = migration;
        return p != null && !isOver(p);
    }

    private static boolean isOver(MigrationProgress p) {
        return p.phase() == MigrationProgress.Phase.COMPLETED || p.phase() == MigrationProgress.Phase.FAILED;
    }

    private String snapshot(String args) throws IOException {
        boolean leavePaused = args.startsWith("--paused");
        if (leavePaused) args = args.substring("--paused".length()).strip();
        if (args.isEmpty()) return "error: usage: snapshot [--paused] DIR";
        Path dir = Path.of(args);
        if (!dir.isAbsolute()) return "error: the snapshot directory must be an absolute path (visor control makes it one)";
        Snapshot.Created c = Snapshot.create(vm, dir, leavePaused);
        // disks=: the overlay each disk now writes ("-" for a read-only one), for a supervisor whose
        // definitions name the disks (the images written until now belong to the snapshot)
        StringBuilder disks = new StringBuilder();
        for (java.nio.file.Path live : c.liveDisks()) disks.append(disks.isEmpty() ? "" : ",").append(live == null ? "-" : live.toString());
        return "ok " + c.dir() + " ram=" + c.ramBytes() + " state=" + c.stateBytes() + " pause_ms=" + c.pauseNanos() / 1_000_000
                + (disks.isEmpty() ? "" : " disks=" + disks);
    }

    private String info() {
        StringBuilder s = new StringBuilder("ok memory=" + vm.memoryBytes() + " disks=");
        int i = 0;
        for (VirtioBlk d : vm.disks()) s.append(i++ == 0 ? "" : ",").append(d.name().replace("virtio-blk ", "")).append(':').append(d.disk().size());
        if (vm.balloon() != null) s.append(" balloon=").append(vm.balloon().actualPages() * 4096L);
        return s.toString();
    }

    /** Counters for a monitor: one line of name=value pairs, in a fixed order (see the class comment). */
    private String stats() {
        long diskReadBytes = 0, diskWriteBytes = 0, diskReadOps = 0, diskWriteOps = 0;
        for (VirtioBlk d : vm.disks()) {
            diskReadBytes += d.readBytes();
            diskWriteBytes += d.writtenBytes();
            diskReadOps += d.readOps();
            diskWriteOps += d.writeOps();
        }
        long rxBytes = 0, txBytes = 0, rxPackets = 0, txPackets = 0;
        for (VirtioNet n : vm.nets()) {
            rxBytes += n.rxBytes();
            txBytes += n.txBytes();
            rxPackets += n.rxFrames();
            txPackets += n.txFrames();
        }
        return "ok instret=" + vm.instructionsRetired() + " vcpu_ns=" + vm.vcpuCpuNanos()
                + " disk_read_bytes=" + diskReadBytes + " disk_write_bytes=" + diskWriteBytes
                + " disk_read_ops=" + diskReadOps + " disk_write_ops=" + diskWriteOps
                + " net_rx_bytes=" + rxBytes + " net_tx_bytes=" + txBytes
                + " net_rx_packets=" + rxPackets + " net_tx_packets=" + txPackets
                + " memory=" + vm.memoryBytes() + " state=" + (vm.isPaused() ? "paused" : "running");
    }

    private String resize(String[] w) throws IOException {
        if (w.length != 3) return "error: usage: resize DISK SIZE (e.g. resize vda 2G)";
        VirtioBlk disk = vm.disks().stream().filter(d -> d.name().endsWith(" " + w[1])).findFirst().orElse(null);
        if (disk == null) return "error: no disk " + w[1];
        long size = Sizes.parse(w[2]);
        if (size % 512 != 0) return "error: the size must be a multiple of 512 bytes";
        if (size < disk.disk().size()) return "error: shrinking a disk is not supported (it is " + disk.disk().size() + " bytes)";
        disk.resize(size);
        return "ok " + w[1] + " " + disk.disk().size();
    }

    private String balloon(String[] w) {
        if (vm.balloon() == null) return "error: this VM has no balloon (start it with --balloon)";
        if (w.length == 1) return "ok actual=" + vm.balloon().actualPages() * 4096L + " target=" + vm.balloon().targetPages() * 4096L;
        long guest = Sizes.parse(w[1]);
        if (guest > vm.memoryBytes()) return "error: the guest has only " + vm.memoryBytes() + " bytes";
        long pages = (vm.memoryBytes() - guest) / 4096;
        vm.balloon().setTargetPages(pages);
        return "ok target=" + pages * 4096L;
    }

    @Override
    public void close() {
        try {
            server.close();
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // the socket file may be gone already
        }
    }
}
