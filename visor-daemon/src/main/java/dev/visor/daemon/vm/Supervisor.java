package dev.visor.daemon.vm;

import dev.visor.block.BlockImages;
import dev.visor.daemon.DaemonException;
import dev.visor.daemon.DaemonPaths;
import dev.visor.daemon.events.EventBus;
import dev.visor.daemon.images.ImageStore;
import dev.visor.daemon.model.DiskRef;
import dev.visor.daemon.model.RestartPolicy;
import dev.visor.daemon.model.SnapshotInfo;
import dev.visor.daemon.model.VmDefinition;
import dev.visor.daemon.model.VmRecord;
import dev.visor.daemon.model.VmState;
import dev.visor.daemon.security.Labels;
import dev.visor.daemon.store.NameTakenException;
import dev.visor.daemon.store.SnapshotStore;
import dev.visor.daemon.store.StoreException;
import dev.visor.daemon.store.VmStore;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Keeps each VM's VMM process in the state its definition and the API ask for: starts, stops,
 * pauses and snapshots it through its control socket, notices at once when the process ends
 * (and applies the restart policy), and on daemon start re-attaches to the VMM processes that
 * outlived the previous daemon. Operations on one VM are serialized by a per-VM lock; operations
 * on different VMs run in parallel. Every operation either completes or leaves the VM as it was.
 */
public final class Supervisor implements AutoCloseable {
    private static final Duration START_TIMEOUT = Duration.ofSeconds(90);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration CONTROL_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration SNAPSHOT_TIMEOUT = Duration.ofMinutes(5);
    /** A VM restarted by its policy more often than this within a minute is left crashed (as systemd's StartLimitBurst). */
    static final int RESTART_BURST = 5;
    private static final Duration RESTART_DELAY = Duration.ofMillis(500);

    private final DaemonPaths paths;
    private final VmStore store;
    private final SnapshotStore snapshots;
    private final ImageStore images;
    private final VmmLauncher launcher;
    private final EventBus events;
    private final ConcurrentHashMap<String, Live> live = new ConcurrentHashMap<>();
    private volatile boolean closed;

    /** The runtime side of one VM: its lock and, while a VMM runs, its process and console. */
    private static final class Live {
        final ReentrantLock lock = new ReentrantLock();
        ProcessHandle process;
        /** The process when this daemon started it (its exit status is then known exactly); null when re-attached. */
        Process child;
        ConsoleHub console;
        /** A shutdown or kill was asked for: the process's end is not a failure and no restart follows. */
        boolean stopRequested;
        final ArrayDeque<Instant> policyRestarts = new ArrayDeque<>();
    }

    public Supervisor(DaemonPaths paths, VmStore store, SnapshotStore snapshots, ImageStore images, VmmLauncher launcher,
                      EventBus events) {
        this.paths = paths;
        this.store = store;
        this.snapshots = snapshots;
        this.images = images;
        this.launcher = launcher;
        this.events = events;
    }

    private Live live(String name) { return live.computeIfAbsent(name, n -> new Live()); }

    private VmRecord find(String name) throws DaemonException {
        try {
            return store.find(name).orElseThrow(() -> DaemonException.notFound("no VM named '" + name + "'"));
        } catch (StoreException e) {
            throw DaemonException.failed("the store failed: " + e.getMessage(), e);
        }
    }

    private interface Op<T> { T run(Live l, VmRecord r) throws DaemonException, IOException, StoreException; }

    /** Runs {@code op} on VM {@code name} under its lock. */
    private <T> T locked(String name, Op<T> op) throws DaemonException {
        Live l = live(name);
        l.lock.lock();
        try {
            return op.run(l, find(name));
        } catch (StoreException e) {
            throw DaemonException.failed("the store failed: " + e.getMessage(), e);
        } catch (NoSuchFileException e) {
            throw DaemonException.conflict(e.getReason() != null ? e.getReason() : "missing file " + e.getFile());
        } catch (ControlClient.VmmException e) {
            throw DaemonException.conflict("the VMM refused: " + e.getMessage());
        } catch (IOException e) {
            throw DaemonException.failed(e.getMessage(), e);
        } finally {
            l.lock.unlock();
        }
    }

    // ---------------------------------------------------------------- definitions

    public List<VmRecord> list() throws DaemonException {
        try {
            return store.list();
        } catch (StoreException e) {
            throw DaemonException.failed("the store failed: " + e.getMessage(), e);
        }
    }

    public VmRecord get(String name) throws DaemonException { return find(name); }

    /** Stores a new VM (stopped) after checking its disks may be given to it; labels its writable disks. */
    public VmRecord define(VmDefinition d) throws DaemonException {
        Live l = live(d.name());
        l.lock.lock();
        try {
            checkDisks(d.disks(), null);
            checkSnapshot(d.snapshot());
            VmRecord r;
            try {
                r = store.define(d);
            } catch (NameTakenException e) {
                throw DaemonException.conflict("a VM named '" + d.name() + "' exists already");
            }
            try {
                labelDisks(r);
            } catch (IOException e) {
                store.delete(d.name());
                throw DaemonException.failed("could not label the VM's disks: " + e.getMessage(), e);
            }
            events.publish(d.name(), "defined", r.state().apiName(), null);
            return r;
        } catch (StoreException e) {
            throw DaemonException.failed("the store failed: " + e.getMessage(), e);
        } finally {
            l.lock.unlock();
        }
    }

    /**
     * Checks that {@code disks} may be given to the VM labelled {@code label} (null: a new VM): each
     * image exists in the store; a writable one carries no other VM's label and no other VM uses it;
     * a read-only one carries no label (no VM writes it).
     */
    private void checkDisks(List<DiskRef> disks, VmRecord owner) throws DaemonException, StoreException {
        for (int i = 0; i < disks.size(); i++) {
            DiskRef disk = disks.get(i);
            String field = "disks[" + i + "].image";
            Path p;
            try {
                p = images.existing(disk.image());
            } catch (IllegalArgumentException e) {
                throw DaemonException.invalid(field, e.getMessage());
            } catch (NoSuchFileException e) {
                throw DaemonException.invalid(field, e.getReason());
            }
            String label;
            try {
                label = Labels.get(p);
            } catch (IOException e) {
                throw DaemonException.failed("cannot read the label of " + disk.image() + ": " + e.getMessage(), e);
            }
            String mine = owner == null ? null : owner.label();
            if (label != null && !label.equals(mine)) {
                throw DaemonException.forbidden("image '" + disk.image() + "' belongs to another VM (label " + label + ")");
            }
            if (!disk.readonly()) {
                var user = store.vmUsingImage(disk.image());
                if (user.isPresent() && (owner == null || !user.get().equals(owner.name()))) {
                    throw DaemonException.forbidden("image '" + disk.image() + "' is a disk of VM '" + user.get() + "'");
                }
            }
            for (int j = 0; j < i; j++) {
                if (disks.get(j).image().equals(disk.image())) throw DaemonException.invalid(field, "image '" + disk.image() + "' is given twice");
            }
        }
    }

    private void checkSnapshot(String snapshot) throws DaemonException, StoreException {
        if (snapshot == null) return;
        String[] parts = snapshot.split("/", 2);
        if (parts.length != 2 || snapshots.find(parts[0], parts[1]).isEmpty()) {
            throw DaemonException.invalid("snapshot", "no snapshot '" + snapshot + "' (give VM/SNAPSHOT)");
        }
    }

    private void labelDisks(VmRecord r) throws IOException {
        for (DiskRef d : r.definition().disks()) if (!d.readonly()) Labels.set(images.existing(d.image()), r.label());
    }

    /** Replaces the definition; the shape (cpus, memory, disks, NICs, append) only changes while the VM is stopped. */
    public VmRecord update(String name, VmDefinition d) throws DaemonException {
        return locked(name, (l, r) -> {
            VmDefinition old = r.definition();
            boolean shape = old.cpus() != d.cpus() || old.memoryBytes() != d.memoryBytes() || !old.disks().equals(d.disks())
                    || !old.nets().equals(d.nets()) || !java.util.Objects.equals(old.append(), d.append())
                    || old.rng() != d.rng() || old.balloon() != d.balloon();
            if (shape && r.state().active()) throw DaemonException.conflict("VM '" + name + "' is " + r.state().apiName()
                    + ": its cpus, memory, disks and NICs change only while it is stopped");
            if (!old.disks().equals(d.disks())) checkDisks(d.disks(), r);
            VmRecord u = store.updateDefinition(name, d);
            labelDisks(u);
            events.publish(name, "updated", u.state().apiName(), null);
            return u;
        });
    }

    /** Attaches an image of the store to a stopped VM as its next disk. */
    public VmRecord attachDisk(String name, DiskRef disk) throws DaemonException {
        VmRecord r = find(name);
        List<DiskRef> disks = new ArrayList<>(r.definition().disks());
        disks.add(disk);
        if (r.definition().snapshot() != null) throw DaemonException.conflict("VM '" + name + "' is a snapshot clone: its disks come from the snapshot");
        return update(name, r.definition().withDisks(disks));
    }

    /** Forgets a stopped VM: its definition, its disks' labels, its logs. Its images stay in the store. */
    public void delete(String name) throws DaemonException {
        locked(name, (l, r) -> {
            if (r.state().active()) throw DaemonException.conflict("VM '" + name + "' is " + r.state().apiName() + ": stop it first");
            forgetLocked(r);
            events.publish(name, "deleted", null, null);
            return null;
        });
    }

    /**
     * Removes a VM that has no VMM from this daemon: its disks' labels (the images stay in the store,
     * free for any VM), its definition, its run and log directories.
     */
    private void forgetLocked(VmRecord r) throws IOException, StoreException {
        for (DiskRef d : r.definition().disks()) {
            try {
                Path p = images.existing(d.image());
                if (r.label().equals(Labels.get(p))) Labels.clear(p);
            } catch (NoSuchFileException | IllegalArgumentException ignored) {
                // already gone
            }
        }
        store.delete(r.name());
        VmmLauncher.deleteTree(paths.runDir(r.id()));
        VmmLauncher.deleteTree(paths.vmDir(r.id()));
        live.remove(r.name());
    }

    // ---------------------------------------------------------------- lifecycle

    public VmRecord start(String name) throws DaemonException {
        return locked(name, (l, r) -> {
            if (r.state().active()) throw DaemonException.conflict("VM '" + name + "' is " + r.state().apiName() + " already");
            return startLocked(l, r);
        });
    }

    /** Starts the VMM and waits until it answers on its control socket; on failure the VM stays as it was. */
    private VmRecord startLocked(Live l, VmRecord r) throws DaemonException, IOException, StoreException {
        String name = r.name();
        VmState before = r.state();
        if (closed) throw DaemonException.conflict("the daemon is shutting down");
        Process p = launcher.launch(r);
        ProcessHandle h = p.toHandle();
        l.process = h;
        l.child = p;
        l.stopRequested = false;
        store.setProcess(name, VmState.STARTING, p.pid(), h.info().startInstant().orElse(null), Instant.now());
        events.publish(name, "state", "starting", "pid " + p.pid());
        ControlClient control = new ControlClient(paths.controlSocket(r.id()));
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        String failure = null;
        while (failure == null) {
            if (!p.isAlive()) {
                String why = launcher.lastLogLine(r.id());
                failure = "the VMM exited with status " + p.exitValue() + (why != null ? ": " + why : "");
            } else if (Files.exists(paths.controlSocket(r.id())) && control.answers()) {
                break;
            } else if (System.nanoTime() > deadline) {
                p.destroyForcibly();
                failure = "the VMM did not answer within " + START_TIMEOUT.toSeconds() + " s (see " + paths.vmmLog(r.id()) + ")";
            } else {
                sleep(50);
            }
        }
        if (failure != null) {
            try {
                p.onExit().get(5, TimeUnit.SECONDS);
            } catch (Exception ignored) {
                // it was killed; nothing more to wait for
            }
            l.process = null;
            l.child = null;
            store.setExited(name, before == VmState.CRASHED ? VmState.CRASHED : VmState.STOPPED, r.exitCode(), failure);
            events.publish(name, "state", before.apiName(), "start failed: " + failure);
            throw DaemonException.failed("VM '" + name + "' did not start: " + failure, null);
        }
        l.console = ConsoleHub.follow(paths.consoleSocket(r.id()), paths.consoleLog(r.id()));
        watch(name, h);
        store.setLastError(name, null);
        VmRecord up = store.setState(name, VmState.RUNNING);
        events.publish(name, "state", "running", "pid " + p.pid());
        return up;
    }

    /** When {@code h} ends, handles it (unless an operation holding the lock already did). */
    private void watch(String name, ProcessHandle h) {
        h.onExit().thenRun(() -> Thread.ofVirtual().name("exit-" + name).start(() -> {
            Live l = live.get(name);
            if (l == null) return;
            l.lock.lock();
            try {
                if (l.process != null && l.process.pid() == h.pid()) exitedLocked(l, find(name));
            } catch (DaemonException | StoreException | RuntimeException e) {
                System.err.println("visord: after VM " + name + " exited: " + e.getMessage());
            } finally {
                l.lock.unlock();
            }
        }));
    }

    /** The VMM of {@code r} has ended: records how, and applies the restart policy. */
    private void exitedLocked(Live l, VmRecord r) throws StoreException {
        String name = r.name();
        Integer code = exitCode(l, r);
        boolean requested = l.stopRequested;
        l.process = null;
        l.child = null;
        if (l.console != null) {
            l.console.close();
            l.console = null;
        }
        boolean failed = code == null || code != 0;
        VmState next = requested || !failed ? VmState.STOPPED : VmState.CRASHED;
        String error = null;
        if (next == VmState.CRASHED) {
            String why = launcher.lastLogLine(r.id());
            error = (code == null ? "the VMM process ended without an exit status (killed?)" : "the VMM exited with status " + code)
                    + (why != null && code != null ? ": " + why : "");
        }
        store.setExited(name, next, code, error);
        events.publish(name, "state", next.apiName(), requested ? "stopped on request"
                : error != null ? error : "the guest powered off");
        RestartPolicy policy = r.definition().restart();
        boolean restart = !requested && !closed
                && (policy == RestartPolicy.ALWAYS || (policy == RestartPolicy.ON_FAILURE && failed));
        if (restart) scheduleRestart(l, name);
    }

    private void scheduleRestart(Live l, String name) throws StoreException {
        Instant now = Instant.now();
        while (!l.policyRestarts.isEmpty() && l.policyRestarts.peekFirst().isBefore(now.minusSeconds(60))) l.policyRestarts.removeFirst();
        if (l.policyRestarts.size() >= RESTART_BURST) {
            store.setLastError(name, "restarted " + RESTART_BURST + " times within a minute: left stopped (start it to try again)");
            events.publish(name, "state", "crashed", "restart limit reached");
            return;
        }
        l.policyRestarts.addLast(now);
        Thread.ofVirtual().name("restart-" + name).start(() -> {
            sleep(RESTART_DELAY.toMillis());
            try {
                locked(name, (ll, r) -> {
                    if (r.state().active() || closed) return null;
                    // counted before the start, which makes the record "running": a client that sees
                    // the new process running must see the restart that made it (a CI run did not)
                    store.setRestarts(name, r.restarts() + 1);
                    VmRecord up = startLocked(ll, r);
                    events.publish(name, "restarted", up.state().apiName(), "by its restart policy (" + r.definition().restart().apiName() + ")");
                    return null;
                });
            } catch (DaemonException e) {
                System.err.println("visord: restarting VM " + name + ": " + e.getMessage());
            }
        });
    }

    /** The ended VMM's exit status: exact for a child; else from the file it writes on exit; null if killed. */
    private Integer exitCode(Live l, VmRecord r) {
        if (l.child != null) {
            try {
                return l.child.waitFor(5, TimeUnit.SECONDS) ? l.child.exitValue() : null;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
        }
        try {
            return Integer.parseInt(Files.readString(paths.exitStatus(r.id())).strip());
        } catch (IOException | NumberFormatException e) {
            return null;
        }
    }

    /** Asks the VMM to stop cleanly (it flushes its disks); kills it if it has not ended within 30 s. */
    public VmRecord shutdown(String name) throws DaemonException {
        return locked(name, (l, r) -> {
            if (!r.state().active() || l.process == null) throw DaemonException.conflict("VM '" + name + "' is " + r.state().apiName());
            store.setState(name, VmState.STOPPING);
            events.publish(name, "state", "stopping", null);
            stopLocked(l, r);
            return find(name);
        });
    }

    /** Ends the VMM at once (SIGKILL), as {@code virsh destroy}; the restart policy does not apply. */
    public VmRecord kill(String name) throws DaemonException {
        return locked(name, (l, r) -> {
            if (!r.state().active() || l.process == null) throw DaemonException.conflict("VM '" + name + "' is " + r.state().apiName());
            l.stopRequested = true;
            ProcessHandle h = l.process;
            h.destroyForcibly();
            awaitExit(h, Duration.ofSeconds(10));
            exitedLocked(l, r);
            return find(name);
        });
    }

    /** Asks the VMM to quit (it flushes its disks), waits for it to end (killing it after 30 s) and records the end. */
    private void stopLocked(Live l, VmRecord r) throws StoreException {
        l.stopRequested = true;
        ProcessHandle h = l.process;
        try {
            control(r).call("quit", CONTROL_TIMEOUT);
        } catch (IOException e) {
            h.destroy(); // no answer: SIGTERM, then SIGKILL in awaitExit
        }
        awaitExit(h, STOP_TIMEOUT);
        exitedLocked(l, r);
    }

    private static void awaitExit(ProcessHandle h, Duration timeout) {
        try {
            h.onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            h.destroyForcibly();
            try {
                h.onExit().get(10, TimeUnit.SECONDS);
            } catch (Exception ignored) {
                // it is being killed; the watcher will see it go
            }
        } catch (Exception ignored) {
            // interrupted or failed: the watcher handles the end when it comes
        }
    }

    public VmRecord reboot(String name) throws DaemonException {
        return locked(name, (l, r) -> {
            if (r.state().active() && l.process != null) stopLocked(l, r);
            return startLocked(l, find(name));
        });
    }

    public VmRecord pause(String name) throws DaemonException {
        return locked(name, (l, r) -> {
            if (r.state() != VmState.RUNNING) throw DaemonException.conflict("VM '" + name + "' is " + r.state().apiName() + ", not running");
            control(r).call("pause", CONTROL_TIMEOUT);
            VmRecord u = store.setState(name, VmState.PAUSED);
            events.publish(name, "state", "paused", null);
            return u;
        });
    }

    public VmRecord resume(String name) throws DaemonException {
        return locked(name, (l, r) -> {
            if (r.state() != VmState.PAUSED) throw DaemonException.conflict("VM '" + name + "' is " + r.state().apiName() + ", not paused");
            control(r).call("resume", CONTROL_TIMEOUT);
            VmRecord u = store.setState(name, VmState.RUNNING);
            events.publish(name, "state", "running", "resumed");
            return u;
        });
    }

    private ControlClient control(VmRecord r) { return new ControlClient(paths.controlSocket(r.id())); }

    /** Grows disk {@code device} (vda, vdb, ...): through the VMM while it runs (the guest sees it at once), else the image. */
    public long resizeDisk(String name, String device, long size) throws DaemonException {
        return locked(name, (l, r) -> {
            List<DiskRef> disks = r.definition().disks();
            int index = device.matches("vd[a-z]") ? device.charAt(2) - 'a' : -1;
            if (index < 0 || index >= disks.size()) throw DaemonException.notFound("VM '" + name + "' has no disk " + device);
            if (r.state().active() && l.process != null) {
                String answer = control(r).call("resize " + device + " " + size, CONTROL_TIMEOUT);
                return Long.parseLong(answer.split("\\s+")[1]);
            }
            Path p = images.existing(disks.get(index).image());
            long now = BlockImages.info(p).virtualSize();
            if (size < now) throw DaemonException.invalid("size", "shrinking a disk is not supported (it is " + now + " bytes)");
            BlockImages.resize(p, size);
            return BlockImages.info(p).virtualSize();
        });
    }

    // ---------------------------------------------------------------- snapshots

    /**
     * Snapshots a running or paused VM into the daemon's snapshot directory. The VM's writable disks
     * move onto new overlays in the store (the images they wrote until now are frozen for the
     * snapshot), and its definition follows, so its next start uses the overlays.
     */
    public SnapshotInfo snapshot(String name, String snapshotName) throws DaemonException {
        return locked(name, (l, r) -> {
            if (r.state() != VmState.RUNNING && r.state() != VmState.PAUSED) {
                throw DaemonException.conflict("VM '" + name + "' is " + r.state().apiName() + ": snapshots are taken of a running or paused VM");
            }
            if (snapshots.find(name, snapshotName).isPresent()) throw DaemonException.conflict("VM '" + name + "' has a snapshot '" + snapshotName + "' already");
            Path dir = paths.snapshot(name, snapshotName);
            Files.createDirectories(dir.getParent());
            String answer = control(r).call("snapshot " + (r.state() == VmState.PAUSED ? "--paused " : "") + dir, SNAPSHOT_TIMEOUT);
            long ram = 0;
            List<String> live = List.of();
            for (String w : answer.split("\\s+")) {
                if (w.startsWith("ram=")) ram = Long.parseLong(w.substring(4));
                if (w.startsWith("disks=")) live = List.of(w.substring(6).split(","));
            }
            followOverlays(r, live);
            launcher.isolation().sealSnapshot(r, dir); // root's now: the VMM that wrote it can no longer change it
            SnapshotInfo s;
            try {
                s = snapshots.add(new SnapshotInfo(name, snapshotName, dir.toString(), ram, Instant.now()));
            } catch (NameTakenException e) {
                throw DaemonException.conflict("VM '" + name + "' has a snapshot '" + snapshotName + "' already");
            }
            events.publish(name, "snapshot", r.state().apiName(), snapshotName);
            return s;
        });
    }

    /** After a snapshot: the VM's writable disks are now the overlays the VMM reported (a path per disk, "-" for read-only). */
    private void followOverlays(VmRecord r, List<String> live) throws IOException, StoreException {
        List<DiskRef> disks = new ArrayList<>(r.definition().disks());
        if (r.definition().snapshot() != null || live.size() != disks.size()) return;
        boolean changed = false;
        for (int i = 0; i < disks.size(); i++) {
            String p = live.get(i);
            if (p.equals("-") || disks.get(i).readonly()) continue;
            Path overlay = Path.of(p);
            if (!overlay.getParent().equals(images.dir())) continue; // not in the store: leave the definition alone
            if (!launcher.isolation().madeBy(r, overlay)) continue; // a VMM must not get an image by naming it
            String image = overlay.getFileName().toString();
            Labels.set(overlay, r.label());
            // the frozen image now belongs to the snapshot: no VM may write it any more
            Labels.set(images.existing(disks.get(i).image()), "visor-snapshot");
            disks.set(i, new DiskRef(image, false));
            changed = true;
        }
        if (changed) store.updateDefinition(r.name(), r.definition().withDisks(disks));
    }

    public List<SnapshotInfo> snapshots(String name) throws DaemonException {
        find(name);
        try {
            return snapshots.list(name);
        } catch (StoreException e) {
            throw DaemonException.failed("the store failed: " + e.getMessage(), e);
        }
    }

    public void deleteSnapshot(String name, String snapshotName) throws DaemonException {
        locked(name, (l, r) -> {
            SnapshotInfo s = snapshots.find(name, snapshotName)
                    .orElseThrow(() -> DaemonException.notFound("VM '" + name + "' has no snapshot '" + snapshotName + "'"));
            String ref = name + "/" + snapshotName;
            for (VmRecord v : store.list()) {
                if (ref.equals(v.definition().snapshot())) throw DaemonException.conflict("VM '" + v.name() + "' is a clone of " + ref + ": delete it first");
            }
            VmmLauncher.deleteTree(Path.of(s.path()));
            snapshots.delete(name, snapshotName);
            events.publish(name, "snapshot-deleted", r.state().apiName(), snapshotName);
            return null;
        });
    }

    // ---------------------------------------------------------------- live migration between daemons

    /** A VM that left for another host: how the move went. */
    public record Migrated(String vm, String destination, double totalMs, double downtimeMs) {}

    /**
     * Moves a running VM to the daemon at {@code destination} (live: pre-copy, then a short stop),
     * copying its writable disks when {@code copyStorage}. On success the VM is defined and runs
     * there and is forgotten here (its images stay in this store, unlabelled); on failure it runs
     * on here and the destination forgets it.
     */
    public Migrated migrate(String name, java.net.URI destination, String token, boolean copyStorage, long downtimeMs)
            throws DaemonException {
        return locked(name, (l, r) -> {
            if (r.state() != VmState.RUNNING && r.state() != VmState.PAUSED) {
                throw DaemonException.conflict("VM '" + name + "' is " + r.state().apiName() + ": only a running VM migrates");
            }
            if (r.definition().snapshot() != null) throw DaemonException.conflict("VM '" + name + "' is a snapshot clone: clones do not migrate yet");
            boolean writable = r.definition().disks().stream().anyMatch(d -> !d.readonly());
            if (writable && !copyStorage) {
                throw DaemonException.invalid("copyStorage", "the daemons do not share an image store: give copyStorage=true to copy the disks");
            }
            DaemonPeer peer = new DaemonPeer(destination, token);
            int port = peer.prepareIncoming(r.definition(), copyStorage);
            if (port <= 0) throw DaemonException.conflict("the destination did not say where to send the VM");
            String answer = control(r).call("migrate tcp:" + peer.host() + ":" + port + " downtime=" + downtimeMs
                    + (copyStorage ? " copy-storage=on" : ""), Duration.ofHours(1));
            double total = 0, downtime = 0;
            for (String w : answer.split("\\s+")) {
                if (w.startsWith("total_ms=")) total = Double.parseDouble(w.substring(9));
                if (w.startsWith("downtime_ms=")) downtime = Double.parseDouble(w.substring(12));
            }
            // the guest runs at the destination now: this VMM stops by itself
            l.stopRequested = true;
            if (l.process != null) awaitExit(l.process, STOP_TIMEOUT);
            exitedLocked(l, r);
            forgetLocked(r);
            events.publish(name, "migrated", null, "to " + destination);
            return new Migrated(name, destination.toString(), total, downtime);
        });
    }

    /** An incoming migration being prepared: the VM (starting) and the port its VMM waits on. */
    public record Incoming(VmRecord vm, int port) {}

    /**
     * Defines {@code d} here and starts a VMM waiting for its migration on {@code bindHost}. With
     * {@code copyStorage} its writable disks are new images of this store that the migration fills
     * (they must not exist yet). Once the migration completes the VM runs here; if it fails, the VM
     * and its half-copied images are removed again.
     */
    public Incoming incoming(VmDefinition d, boolean copyStorage, String bindHost) throws DaemonException {
        if (d.snapshot() != null) throw DaemonException.invalid("vm.snapshot", "a snapshot clone cannot migrate");
        Live l = live(d.name());
        l.lock.lock();
        try {
            List<Path> created = new ArrayList<>();
            for (int i = 0; i < d.disks().size(); i++) {
                DiskRef disk = d.disks().get(i);
                String field = "vm.disks[" + i + "].image";
                Path p;
                try {
                    p = disk.readonly() ? images.existing(disk.image()) : images.path(disk.image());
                } catch (IllegalArgumentException e) {
                    throw DaemonException.invalid(field, e.getMessage());
                } catch (NoSuchFileException e) {
                    throw DaemonException.conflict("read-only disk " + disk.image() + " is not in this store (read-only disks are not copied)");
                }
                if (!disk.readonly()) {
                    if (!copyStorage) throw DaemonException.invalid("copyStorage", "the VM has writable disks: they are copied only with copyStorage");
                    if (Files.exists(p)) throw DaemonException.conflict("an image named '" + disk.image() + "' exists in this store already");
                    created.add(p);
                }
            }
            VmRecord r;
            try {
                r = store.define(d);
            } catch (NameTakenException e) {
                throw DaemonException.conflict("a VM named '" + d.name() + "' exists here already");
            }
            Process p;
            try {
                p = launcher.launch(r, "tcp:" + bindHost + ":0");
            } catch (IOException e) {
                store.delete(d.name());
                throw DaemonException.failed("could not start the VMM: " + e.getMessage(), e);
            }
            l.process = p.toHandle();
            l.child = p;
            l.stopRequested = false;
            store.setProcess(d.name(), VmState.STARTING, p.pid(), p.toHandle().info().startInstant().orElse(null), Instant.now());
            long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
            int port;
            while ((port = launcher.incomingPort(r.id())) < 0) {
                if (!p.isAlive() || System.nanoTime() > deadline) {
                    p.destroyForcibly();
                    String why = launcher.lastLogLine(r.id());
                    forgetIncoming(l, r, created);
                    throw DaemonException.failed("the VMM did not get ready for the migration" + (why != null ? ": " + why : ""), null);
                }
                sleep(50);
            }
            events.publish(d.name(), "state", "starting", "waiting for a migration on port " + port);
            Thread.ofVirtual().name("incoming-" + d.name()).start(() -> awaitIncoming(d.name(), r, p, created));
            return new Incoming(find(d.name()), port);
        } catch (StoreException e) {
            throw DaemonException.failed("the store failed: " + e.getMessage(), e);
        } finally {
            l.lock.unlock();
        }
    }

    /** Waits for the migration into {@code p} to complete (the VMM then answers on its control socket) or fail. */
    private void awaitIncoming(String name, VmRecord r, Process p, List<Path> created) {
        ControlClient control = control(r);
        long deadline = System.nanoTime() + Duration.ofHours(2).toNanos();
        while (true) {
            boolean up = p.isAlive() && Files.exists(paths.controlSocket(r.id())) && control.answers();
            Live l = live(name);
            l.lock.lock();
            try {
                if (l.process == null || l.process.pid() != p.pid()) return; // killed or shut down meanwhile
                if (up) {
                    l.console = ConsoleHub.follow(paths.consoleSocket(r.id()), paths.consoleLog(r.id()));
                    watch(name, p.toHandle());
                    labelDisks(r);
                    store.setState(name, VmState.RUNNING);
                    events.publish(name, "migrated", "running", "arrived");
                    return;
                }
                if (!p.isAlive() || System.nanoTime() > deadline) {
                    p.destroyForcibly();
                    forgetIncoming(l, r, created);
                    events.publish(name, "deleted", null, "the incoming migration failed");
                    return;
                }
            } catch (IOException | StoreException e) {
                System.err.println("visord: incoming VM " + name + ": " + e.getMessage());
                return;
            } finally {
                l.lock.unlock();
            }
            sleep(100);
        }
    }

    private void forgetIncoming(Live l, VmRecord r, List<Path> created) throws StoreException {
        l.process = null;
        l.child = null;
        store.delete(r.name());
        for (Path c : created) {
            try {
                Files.deleteIfExists(c);
            } catch (IOException ignored) {
                // left for the operator; it is not labelled, so any VM may take it
            }
        }
        try {
            VmmLauncher.deleteTree(paths.runDir(r.id()));
        } catch (IOException ignored) {
            // stale run dir, emptied at its next use
        }
        live.remove(r.name());
    }

    // ---------------------------------------------------------------- images

    /** Removes an image from the store unless a VM, a snapshot or another image still needs it. */
    public void deleteImage(String image) throws DaemonException {
        try {
            Path p = images.existing(image);
            var user = store.vmUsingImage(image);
            if (user.isPresent()) throw DaemonException.conflict("image '" + image + "' is a disk of VM '" + user.get() + "'");
            if ("visor-snapshot".equals(Labels.get(p))) throw DaemonException.conflict("image '" + image + "' holds a snapshot's disk");
            for (ImageStore.Image other : images.list()) {
                if (image.equals(other.backing())) throw DaemonException.conflict("image '" + other.name() + "' is an overlay on '" + image + "'");
            }
            images.delete(image);
        } catch (IllegalArgumentException e) {
            throw DaemonException.invalid("image", e.getMessage());
        } catch (NoSuchFileException e) {
            throw DaemonException.notFound(e.getReason());
        } catch (StoreException | IOException e) {
            throw DaemonException.failed(e.getMessage(), e);
        }
    }

    // ---------------------------------------------------------------- consoles, monitoring, recovery

    /** The console of a VM whose VMM runs, or null. */
    public ConsoleHub console(String name) {
        Live l = live.get(name);
        return l == null ? null : l.console;
    }

    /** The last {@code max} bytes of a VM's console log (for a VM without a running VMM). */
    public byte[] consoleLogTail(VmRecord vm, int max) {
        Path log = paths.consoleLog(vm.id());
        if (!Files.isRegularFile(log, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return new byte[0]; // never follow a link the VMM planted
        try (var f = new java.io.RandomAccessFile(log.toFile(), "r")) {
            int n = (int) Math.min(f.length(), Math.max(0, max));
            byte[] b = new byte[n];
            f.seek(f.length() - n);
            f.readFully(b);
            return b;
        } catch (IOException e) {
            return new byte[0];
        }
    }

    /** The VMM's answer to {@code stats} (without "ok"), or null when it has no VMM or does not answer. */
    public String stats(VmRecord r) {
        if (!r.state().active() || r.state() == VmState.STARTING) return null;
        try {
            return control(r).call("stats", Duration.ofSeconds(2));
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * On daemon start: re-attaches to the VMM processes that outlived the last daemon; VMs whose
     * process is gone are marked as ended (and restarted by their policy); then starts the
     * autostart VMs that do not run. Starts run in the background so the API answers meanwhile.
     */
    public void recover() throws DaemonException {
        for (VmRecord r : list()) {
            Live l = live(r.name());
            l.lock.lock();
            try {
                if (!r.state().active()) continue;
                ProcessHandle h = r.pid() > 0 ? ProcessHandle.of(r.pid()).orElse(null) : null;
                boolean same = h != null && h.isAlive() && (r.pidStart() == null
                        || h.info().startInstant().map(t -> Math.abs(t.toEpochMilli() - r.pidStart().toEpochMilli()) < 2000).orElse(false));
                if (same) {
                    l.process = h;
                    l.child = null;
                    l.console = ConsoleHub.follow(paths.consoleSocket(r.id()), paths.consoleLog(r.id()));
                    watch(r.name(), h);
                    VmState s = r.state() == VmState.STOPPING ? VmState.RUNNING : r.state();
                    try {
                        s = control(r).call("status", CONTROL_TIMEOUT).contains("paused") ? VmState.PAUSED : VmState.RUNNING;
                    } catch (IOException e) {
                        // it will answer later or die; keep what was recorded
                    }
                    store.setState(r.name(), s);
                    events.publish(r.name(), "state", s.apiName(), "re-attached to pid " + h.pid());
                } else {
                    exitedLocked(l, r);
                }
            } catch (StoreException e) {
                System.err.println("visord: recovering VM " + r.name() + ": " + e.getMessage());
            } finally {
                l.lock.unlock();
            }
        }
        for (VmRecord r : list()) {
            if (r.definition().autostart() && !r.state().active()) {
                Thread.ofVirtual().name("autostart-" + r.name()).start(() -> {
                    try {
                        start(r.name());
                        events.publish(r.name(), "autostarted", "running", null);
                    } catch (DaemonException e) {
                        if (e.status() != 409) System.err.println("visord: autostart of VM " + r.name() + ": " + e.getMessage());
                    }
                });
            }
        }
    }

    /** Stops supervising: VMM processes keep running (a new daemon re-attaches to them). */
    @Override
    public void close() {
        closed = true;
        for (Live l : live.values()) {
            ConsoleHub c = l.console;
            if (c != null) c.close();
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
