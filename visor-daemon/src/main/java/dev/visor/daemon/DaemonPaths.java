package dev.visor.daemon;

import java.nio.file.Path;

/**
 * Where the daemon keeps things, all under one state directory (0700):
 * <pre>
 *   visor.db            VM definitions, tokens (hashed), snapshots, audit log (SQLite)
 *   admin.token         the first admin token, readable by the daemon's user only
 *   images/             the image store: the only place VM disks come from
 *   snapshots/VM/SNAP/  snapshots (state, RAM, manifest)
 *   vms/ID/             per VM: console.log, vmm.log, overlays/ (clones' disks)
 *   run/ID/             per running VM: control and console sockets, exit status (short paths: a
 *                       Unix socket path has to fit in 108 bytes)
 * </pre>
 */
public record DaemonPaths(Path stateDir) {
    public DaemonPaths {
        stateDir = stateDir.toAbsolutePath().normalize();
    }

    public Path database() { return stateDir.resolve("visor.db"); }

    public Path adminToken() { return stateDir.resolve("admin.token"); }

    public Path images() { return stateDir.resolve("images"); }

    public Path snapshots() { return stateDir.resolve("snapshots"); }

    public Path snapshot(String vm, String name) { return snapshots().resolve(vm).resolve(name); }

    public Path vmDir(long id) { return stateDir.resolve("vms").resolve(Long.toString(id)); }

    public Path runDir(long id) { return stateDir.resolve("run").resolve(Long.toString(id)); }

    public Path controlSocket(long id) { return runDir(id).resolve("ctl"); }

    public Path consoleSocket(long id) { return runDir(id).resolve("con"); }

    public Path exitStatus(long id) { return runDir(id).resolve("exit"); }

    public Path consoleLog(long id) { return vmDir(id).resolve("console.log"); }

    public Path vmmLog(long id) { return vmDir(id).resolve("vmm.log"); }
}
