package dev.visor.daemon.security;

import dev.visor.block.BlockImages;
import dev.visor.daemon.DaemonPaths;
import dev.visor.daemon.model.DiskRef;
import dev.visor.daemon.model.VmDefinition;
import dev.visor.daemon.model.VmRecord;

import java.io.File;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * VM isolation in the spirit of sVirt's DAC part: when the daemon runs as root, the VMM of VM
 * {@code ID} runs as uid = gid = {@value #UID_BASE} + ID (no passwd entry needed), without
 * capabilities and with no_new_privs ({@code setpriv}), so a guest that takes over its VMM gets a
 * user that reaches only that VM's files. Turned off by {@code VISOR_ISOLATION=off} in the
 * daemon's environment or in {@code Daemon.Config.vmmEnv}; always off when not root (there is no
 * other user to switch to).
 *
 * <p>Who may do what under the state dir (DaemonPaths), set before each VMM starts:
 * <pre>
 *   STATE/ 0711, vms/ run/ snapshots/ 0711    VMM users pass through, cannot list;
 *                                             visor.db, admin.token stay root 0600
 *   run/ID/              U:U 0700             the VMM makes its sockets and exit file here
 *   vms/ID/              root:U 1770          the VMM makes console.log(.1), overlays/ (clones);
 *                                             vmm.log is root's: the sticky bit keeps the VMM from
 *                                             swapping it for a link the daemon (root) then writes to
 *   images/              root:VMMS 1730       see below
 *   IMAGE a VM writes    U:U 0600
 *   IMAGE read only      root:U 0640          (root:VMMS 0640 once a second VM reads it)
 *   snapshots/NAME/      root:U 1771          the VMM writes NAME/SNAP.tmp and renames it to SNAP;
 *                                             the sticky bit keeps it from replacing a sealed SNAP
 *   snapshots/NAME/SNAP  root 0750/0640       sealed right after the snapshot (its frozen images
 *                                             too: root:U 0640); a clone reads it through the group
 *   lib/, cache/         root 0755/0644       readable copies of the class path and guest image
 * </pre>
 *
 * <p>images/: a snapshot makes the VMM create a new overlay beside each writable disk image, so
 * VMM users must be able to create files there, but not list it or touch other VMs' images. A
 * world-writable sticky directory (1733) would give that to every user of the host; instead all
 * VMM users share one supplementary group, VMMS ({@value #VMM_GROUP}), and images/ is root:VMMS
 * 1730: members may create files and open files by name (each file's own mode decides), and the
 * sticky bit keeps them from deleting or renaming files they do not own.
 *
 * <p>A file several VMs must read (a read-only image, a backing image, a cloned snapshot) can only
 * be shared with several users through a group, as this host has no POSIX ACLs: it goes to the
 * one VM user's group while one VM reads it, to VMMS once a second one does.
 *
 * <p>Nothing the VMM wrote is trusted: backing file names in its images and disk paths in its
 * snapshot manifests are followed only inside images/ and never to another VM's writable image,
 * a writable image owned by another existing VM's user is not handed over, symbolic links the
 * VMM left are removed, never followed, and processes a VMM user left behind are killed before
 * its next VMM starts.
 *
 * <p>With cgroup v2 (cpu and memory controllers) each VMM also runs in a cgroup of its own with
 * CPU and memory limits ({@link CgroupLimits}).
 */
public final class Isolation {
    public static final int UID_BASE = 200_000;
    /** The group all VMM users share (VM ids start at 1, so no VM user has this number). */
    public static final int VMM_GROUP = UID_BASE;
    static final Path SETPRIV = Path.of("/usr/bin/setpriv");
    /**
     * Runs the VMM with umask 077: the overlays it makes in images/, its snapshots and sockets are
     * its own only (Java cannot set a child's umask).
     */
    static final String UMASK_SHELL = "umask 077 && exec \"$0\" \"$@\"";

    /** The VMM process of a VM: its command line (before {@code run} and its options) and environment to add. */
    public record Launch(List<String> command, Map<String, String> environment) {}

    private final DaemonPaths paths;
    private final boolean enabled;
    private final CgroupLimits cgroups; // null: no limits
    private final FileAccess.Stat stat = FileAccess.REAL;
    /** The VMM process this launcher last started per VM id, for the clean-up when it exits. */
    private final ConcurrentHashMap<Long, Process> current = new ConcurrentHashMap<>();

    Isolation(DaemonPaths paths, boolean enabled, CgroupLimits cgroups) {
        this.paths = paths;
        this.enabled = enabled;
        this.cgroups = cgroups;
    }

    /** VMMs run as the daemon's user, as before. */
    public static Isolation off(DaemonPaths paths) { return new Isolation(paths, false, null); }

    /** VMMs run as VM users; {@code cgroups} null for no limits. Needs root. */
    public static Isolation on(DaemonPaths paths, CgroupLimits cgroups) { return new Isolation(paths, true, cgroups); }

    /**
     * As the daemon starts: on when it runs as root unless VISOR_ISOLATION=off (the daemon's
     * environment or {@code vmmEnv}); limits when /sys/fs/cgroup is cgroup v2. Says once on stderr
     * what is off or will not work.
     */
    public static Isolation forDaemon(DaemonPaths paths, Map<String, String> vmmEnv) {
        String setting = vmmEnv.getOrDefault("VISOR_ISOLATION", System.getenv("VISOR_ISOLATION"));
        boolean root = runningAsRoot();
        if (!wanted(root, setting)) {
            if (root) System.err.println("visord: VM isolation is off (VISOR_ISOLATION=off): VMMs run as root");
            return off(paths);
        }
        CgroupLimits cg = new CgroupLimits(CgroupLimits.DEFAULT_ROOT);
        if (!cg.available()) {
            System.err.println("visord: cgroup v2 is not available: no CPU/memory limits for VMs");
            cg = null;
        }
        Isolation i = on(paths, cg);
        String clash = rangeClash(Path.of("/etc/passwd"), Path.of("/etc/subuid"), Path.of("/etc/subgid"));
        if (clash != null) System.err.println("visord: VM isolation: VM users (uids from " + (UID_BASE + 1) + ") overlap " + clash
                + ": those users could reach VMs' files, and their processes are killed as a VM's leftovers");
        try {
            i.layout();
            String problem = i.problem();
            if (problem != null) System.err.println("visord: VM isolation: " + problem + "; VMs will not start until this is fixed");
        } catch (IOException e) {
            System.err.println("visord: VM isolation: cannot set up " + paths.stateDir() + ": " + e.getMessage());
        }
        return i;
    }

    /**
     * Who else on this host has ids from {@link #UID_BASE} (a user in passwd, or a subordinate id
     * range for rootless containers, as /etc/subuid gives 65536-id ranges from 100000), or null.
     */
    static String rangeClash(Path passwd, Path... subordinate) {
        long lo = UID_BASE, hi = UID_BASE + 1_000_000L; // VM ids are far below a million
        try {
            for (String line : Files.exists(passwd) ? Files.readAllLines(passwd) : List.<String>of()) {
                String[] f = line.split(":");
                if (f.length > 2 && f[2].matches("\\d+") && Long.parseLong(f[2]) >= lo && Long.parseLong(f[2]) < hi) {
                    return "user " + f[0] + " (uid " + f[2] + ") in " + passwd;
                }
            }
            for (Path file : subordinate) {
                for (String line : Files.exists(file) ? Files.readAllLines(file) : List.<String>of()) {
                    String[] f = line.split(":");
                    if (f.length < 3 || !f[1].matches("\\d+") || !f[2].matches("\\d+")) continue;
                    long start = Long.parseLong(f[1]), end = start + Long.parseLong(f[2]);
                    if (start < hi && end > lo) return f[0] + "'s ids " + start + "-" + (end - 1) + " in " + file;
                }
            }
        } catch (IOException | RuntimeException e) {
            return null; // unreadable: nothing to say
        }
        return null;
    }

    static boolean wanted(boolean root, String setting) {
        return root && !"off".equalsIgnoreCase(setting == null ? "" : setting.strip());
    }

    static boolean runningAsRoot() {
        int uid = processUid(ProcessHandle.current().pid());
        return uid >= 0 ? uid == 0 : "root".equals(System.getProperty("user.name"));
    }

    public boolean enabled() { return enabled; }

    /** The user (and group) id VM {@code vmId}'s VMM runs as. */
    public static int uid(long vmId) { return Math.toIntExact(UID_BASE + vmId); }

    private static boolean isVmUser(int uid) { return uid > UID_BASE; }

    /** Why VMMs cannot run isolated here, or null. */
    String problem() throws IOException {
        if (!Files.isExecutable(SETPRIV)) return SETPRIV + " (util-linux) is missing";
        Path real = paths.stateDir().toRealPath(); // the permissions that count are the link target's
        Path blocking = FileAccess.blockingDirectory(real.resolve("run").resolve("0"), UID_BASE + 1, Set.of(VMM_GROUP), stat);
        if (blocking != null) {
            return "VMM users cannot reach the state dir " + paths.stateDir() + ": " + blocking + " is "
                    + Integer.toOctalString(stat.of(blocking).permissions()) + " (give the daemon a state dir that other users may pass "
                    + "through, e.g. /var/lib/visor, or set VISOR_ISOLATION=off)";
        }
        return null;
    }

    /**
     * Makes VM {@code vm}'s files reachable for its user and nothing else, stages what that user
     * cannot read, makes its cgroup, and returns how to run {@code command} (the VMM command of the
     * daemon) as that user. {@code env} is the VMMs' extra environment (for VISOR_CACHE). Call with
     * the VM's run and vm directories made and no VMM of the VM running.
     */
    public synchronized Launch prepare(VmRecord vm, List<String> command, Map<String, String> env) throws IOException {
        if (!enabled) return new Launch(List.copyOf(command), Map.of());
        long id = vm.id();
        int u = uid(id);
        current.remove(id); // the exit clean-up of an earlier VMM must not touch this one
        layout();
        String problem = problem();
        if (problem != null) throw new IOException("VM isolation: " + problem);
        killProcessesOf(u, paths.stateDir()); // anything an earlier VMM of this VM left running
        sweepImages();

        Path run = paths.runDir(id), vmDir = paths.vmDir(id);
        Files.createDirectories(run);
        Files.createDirectories(vmDir);
        own(run, u, u, 0700);
        own(vmDir, 0, u, 01770);
        dropLinks(vmDir);
        for (String log : List.of("console.log", "console.log.1")) {
            Path f = vmDir.resolve(log);
            if (Files.exists(f, LinkOption.NOFOLLOW_LINKS)) own(f, u, u, 0600); // perhaps written by root before isolation
        }
        Path vmmLog = paths.vmmLog(id);
        if (Files.exists(vmmLog, LinkOption.NOFOLLOW_LINKS)
                && (!Files.isRegularFile(vmmLog, LinkOption.NOFOLLOW_LINKS) || stat.of(vmmLog).uid() != 0)) {
            Files.delete(vmmLog); // the daemon appends to it as root: it must be root's own file
        }

        // the snapshots this VM takes: it creates NAME/SNAP.tmp and renames it; others pass through to clone
        Path mySnapshots = paths.snapshots().resolve(vm.name());
        Files.createDirectories(mySnapshots);
        own(mySnapshots, 0, u, 01771);
        try (Stream<Path> s = Files.list(mySnapshots)) {
            for (Path snap : s.toList()) {
                if (snap.getFileName().toString().endsWith(".tmp")) Staging.deleteTree(snap); // unfinished
                else sealSnapshot(vm, snap);
            }
        }

        VmDefinition d = vm.definition();
        int cpus = d.cpus();
        long memory = d.memoryBytes();
        if (d.snapshot() != null) {
            String[] parts = d.snapshot().split("/", 2);
            Path snap = paths.snapshot(parts[0], parts[1]);
            Path parent = snap.getParent();
            if (Files.isDirectory(snap, LinkOption.NOFOLLOW_LINKS)) { // else the VMM says it is missing
                own(parent, -1, -1, stat.of(parent).permissions() | 0001);
                sealTree(snap); // its VMM may still own it
                try (Stream<Path> s = Files.walk(snap)) {
                    for (Path p : s.toList()) shareRead(p, u);
                }
                Manifest m = Manifest.read(snap.resolve("manifest"));
                cpus = m.cpus();
                if (m.memoryBytes() > 0) memory = m.memoryBytes(); // a clone's definition does not hold its shape
                for (Path disk : m.disks()) shareReadChain(disk, u);
            }
        } else {
            for (DiskRef disk : d.disks()) {
                Path p = image(disk.image());
                if (disk.readonly()) shareReadChain(p, u);
                else if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) { // an incoming migration's VMM makes its disks
                    claim(p, u);
                    for (Path b : backingChain(p)) shareRead(b, u);
                }
            }
        }

        Set<Integer> groups = Set.of(u, VMM_GROUP);
        Map<String, String> extra = new LinkedHashMap<>();
        extra.put("HOME", run.toString()); // nothing of root's home is for the VMM
        extra.put("VISOR_CACHE", guestImageCache(env, u, groups).toString());
        List<String> cmd = new ArrayList<>(List.of(SETPRIV.toString(), "--reuid=" + u, "--regid=" + u, "--groups=" + VMM_GROUP,
                "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "/bin/sh", "-c", UMASK_SHELL));
        cmd.addAll(readableCommand(command, u, groups));
        if (cgroups != null) cgroups.create(id, cpus, memory);
        return new Launch(List.copyOf(cmd), Map.copyOf(extra));
    }

    /**
     * After {@code p}, VM {@code vm}'s VMM, has started: puts it into its cgroup (killing it if
     * that fails: it must not run without its limits), and on its exit removes the cgroup and
     * whatever its user left running.
     */
    public void started(VmRecord vm, Process p) throws IOException {
        if (!enabled) return;
        long id = vm.id();
        current.put(id, p);
        if (cgroups != null) {
            try {
                cgroups.attach(id, p.pid());
            } catch (IOException e) {
                p.destroyForcibly();
                throw new IOException("cannot put the VMM into its cgroup " + cgroups.dir(id) + ": " + e.getMessage(), e);
            }
        }
        p.onExit().thenRun(() -> {
            if (!current.remove(id, p)) return; // a newer VMM of this VM runs (or is being prepared)
            if (cgroups != null) cgroups.remove(id);
            killProcessesOf(uid(id), paths.stateDir());
            try {
                dropLinks(paths.vmDir(id));
            } catch (IOException ignored) {
                // done again before the next start
            }
        });
    }

    /**
     * Removes whatever is not a plain file where the console log goes: the daemon reads the log as
     * root (the API serves its tail), so a VMM's link to, say, /etc/shadow must not stay there.
     */
    private static void dropLinks(Path vmDir) throws IOException {
        for (String log : List.of("console.log", "console.log.1")) {
            Path f = vmDir.resolve(log);
            if (Files.exists(f, LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) Files.delete(f);
        }
    }

    /**
     * Seals snapshot {@code snap} that VM {@code vm}'s VMM wrote, and the disk images it froze:
     * root's from now on, so that VMM can no longer change what clones restore. The snapshot is
     * root's alone until a clone starts; a frozen image keeps the VM's group, as it backs the VM's
     * disk now. Happens by itself when the VM or a clone of it starts; the Supervisor calls it
     * right after a snapshot to close that window.
     */
    public void sealSnapshot(VmRecord vm, Path snap) throws IOException {
        if (!enabled || !Files.isDirectory(snap, LinkOption.NOFOLLOW_LINKS)) return;
        int u = uid(vm.id());
        sealTree(snap);
        Path manifest = snap.resolve("manifest");
        if (!Files.isRegularFile(manifest, LinkOption.NOFOLLOW_LINKS)) return;
        for (Path disk : Manifest.read(manifest).disks()) {
            disk = disk.toAbsolutePath().normalize();
            // the manifest is the VMM's: only images of the store that are its user's own
            if (!paths.images().equals(disk.getParent()) || !Files.isRegularFile(disk, LinkOption.NOFOLLOW_LINKS)) continue;
            if (stat.of(disk).uid() == u) own(disk, 0, -1, 0640);
        }
    }

    /** Makes what a VMM left in {@code dir} root's (0750/0640, group root); links it left are removed. */
    private void sealTree(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.toList()) {
                FileAccess.Meta m = stat.of(p);
                if (m.symlink()) Files.delete(p);
                else if (m.uid() != 0) own(p, 0, 0, m.directory() ? 0750 : 0640);
            }
        }
    }

    /**
     * Whether {@code p}, which VM {@code vm}'s VMM says it made (a snapshot's new overlay), is a
     * file of that VM's user: a VMM must not be able to make the daemon hand it another image by
     * naming it. Always true when isolation is off.
     */
    public boolean madeBy(VmRecord vm, Path p) throws IOException {
        if (!enabled) return true;
        if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) return false;
        int owner = stat.of(p).uid();
        // a VMM started before isolation was turned on runs as root, and so are its files
        return owner == uid(vm.id()) || owner == 0 && processUid(vm.pid()) == 0;
    }

    /**
     * The real uid of process {@code pid}, or -1 when there is none. From its status, not the owner
     * of /proc/PID: that is root for a process that made itself non-dumpable.
     */
    static int processUid(long pid) {
        if (pid <= 0) return -1;
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"), java.nio.charset.StandardCharsets.ISO_8859_1)) {
                if (line.startsWith("Uid:")) return Integer.parseInt(line.split("\\s+")[1]);
            }
        } catch (IOException | RuntimeException e) {
            // gone
        }
        return -1;
    }

    // ---------------------------------------------------------------- files

    /** images/ NAME (names were checked when the VM was defined). */
    private Path image(String name) { return paths.images().resolve(name).normalize(); }

    /** The state dir's top directories: VMM users pass through to their own files, list nothing. */
    private void layout() throws IOException {
        Path state = paths.stateDir();
        Files.createDirectories(state);
        own(state.toRealPath(), -1, -1, 0711); // the admin may have made the state dir a link
        for (Path dir : List.of(state.resolve("vms"), state.resolve("run"), paths.snapshots())) {
            Files.createDirectories(dir);
            own(dir, 0, 0, 0711);
        }
        Files.createDirectories(paths.images());
        own(paths.images(), 0, VMM_GROUP, 01730);
    }

    /**
     * In images/: removes hidden files a VMM made (label sidecars are the daemon's: one a VMM made
     * would be a forged label), and takes every image away from other users (the daemon makes
     * images 0644; a VMM user reaches an image through its owner or group only).
     */
    private void sweepImages() throws IOException {
        try (DirectoryStream<Path> s = Files.newDirectoryStream(paths.images())) {
            for (Path p : s) {
                FileAccess.Meta m = stat.of(p);
                if (p.getFileName().toString().startsWith(".") && m.uid() != 0) Files.delete(p);
                else if (!m.symlink() && (m.permissions() & 0007) != 0) own(p, -1, -1, m.permissions() & ~0007);
            }
        }
    }

    /** Hands writable image {@code p} to user {@code u}, unless it is the image of another VM that exists. */
    private void claim(Path p, int u) throws IOException {
        FileAccess.Meta m = stat.of(p);
        if (m.symlink()) throw new IOException("image " + p.getFileName() + " is a symbolic link");
        if (m.uid() != u && isVmUser(m.uid()) && Files.exists(paths.vmDir(m.uid() - UID_BASE))) {
            throw new IOException("image " + p.getFileName() + " is owned by the user of VM id " + (m.uid() - UID_BASE)
                    + " (uid " + m.uid() + "), which exists: it is not handed to another VM");
        }
        own(p, u, u, 0600);
    }

    /** Lets user {@code u} read {@code p} (only inside images/) and its backing images. */
    private void shareReadChain(Path p, int u) throws IOException {
        p = p.toAbsolutePath().normalize();
        if (!paths.images().equals(p.getParent())) return; // a path a VMM wrote (manifest): only the store's images
        shareRead(p, u);
        for (Path b : backingChain(p)) shareRead(b, u);
    }

    /**
     * Lets user {@code u} read {@code p}: root's (nobody writes it any more), group {@code u} when
     * only this VM reads it, VMMS when another VM's group had it. A VM's writable image (labelled
     * visor-vm-N, or still unlabelled but owned by another existing VM's user, as an image an
     * incoming migration is filling) is never shared: only its own VMM may open it.
     */
    private void shareRead(Path p, int u) throws IOException {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) return;
        FileAccess.Meta m = stat.of(p);
        if (m.symlink()) return;
        String label = m.directory() ? null : Labels.get(p);
        if (label != null && label.startsWith("visor-vm-")) return;
        if (m.uid() != u && isVmUser(m.uid()) && !"visor-snapshot".equals(label) && Files.exists(paths.vmDir(m.uid() - UID_BASE))) return;
        int group = m.gid() == 0 || m.gid() == u ? u : VMM_GROUP;
        own(p, 0, group, m.directory() ? 0750 : 0640);
    }

    /** The backing images of {@code image}, nearest first, as long as they are images of the store. */
    List<Path> backingChain(Path image) {
        List<Path> out = new ArrayList<>();
        Path cur = image;
        for (int i = 0; i < BlockImages.MAX_BACKING_DEPTH; i++) {
            String backing;
            try {
                backing = BlockImages.info(cur).backingFile();
            } catch (IOException e) {
                break; // not readable as an image: the VMM will say so
            }
            if (backing == null) break;
            Path b;
            try {
                b = Path.of(backing);
            } catch (java.nio.file.InvalidPathException e) {
                break; // a header a VMM wrote
            }
            b = (b.isAbsolute() ? b : cur.resolveSibling(b)).normalize();
            // the name comes from an image header a VMM may have written: follow it inside the store only
            if (!paths.images().equals(b.getParent()) || out.contains(b)) break;
            out.add(b);
            cur = b;
        }
        return out;
    }

    /** chown and chmod, never through a symbolic link; -1 leaves that part as it is. */
    private static void own(Path p, int uid, int gid, int mode) throws IOException {
        if (Files.isSymbolicLink(p)) throw new IOException(p + " is a symbolic link");
        if (uid >= 0) Files.setAttribute(p, "unix:uid", uid, LinkOption.NOFOLLOW_LINKS);
        if (gid >= 0) Files.setAttribute(p, "unix:gid", gid, LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(p, "unix:mode", mode, LinkOption.NOFOLLOW_LINKS);
    }

    // ---------------------------------------------------------------- what the VMM runs

    /**
     * {@code command} with its class path readable by user {@code u}: the entries {@code u} cannot
     * read (jars in /root/.m2, say) are replaced by copies in STATE/lib/KEY/. Refused when {@code u}
     * cannot run the program itself (a JDK under /root cannot sensibly be copied).
     */
    List<String> readableCommand(List<String> command, int u, Set<Integer> groups) throws IOException {
        List<String> out = new ArrayList<>(command);
        if (!out.isEmpty() && Path.of(out.getFirst()).isAbsolute() && Files.exists(Path.of(out.getFirst()))) {
            Path exe = Path.of(out.getFirst()).toRealPath();
            if (!FileAccess.canReach(exe, u, groups, stat) || !FileAccess.permits(stat.of(exe), u, groups, FileAccess.READ | FileAccess.EXECUTE)) {
                throw new IOException("VM isolation: VMM users cannot run " + out.getFirst() + " (install it where other users may run it)");
            }
        }
        for (int i = 0; i + 1 < out.size(); i++) {
            if (List.of("-cp", "-classpath", "--class-path").contains(out.get(i))) out.set(i + 1, readableClassPath(out.get(i + 1), u, groups));
        }
        return out;
    }

    private String readableClassPath(String classPath, int u, Set<Integer> groups) throws IOException {
        String[] entries = classPath.split(File.pathSeparator, -1);
        Map<String, Path> unreadable = new LinkedHashMap<>();
        for (int i = 0; i < entries.length; i++) {
            Path p = Path.of(entries[i]).toAbsolutePath();
            if (entries[i].isBlank() || !Files.exists(p) || FileAccess.canReadTree(p, u, groups, stat)) continue;
            unreadable.put(i + "-" + p.getFileName(), p);
        }
        if (unreadable.isEmpty()) return classPath;
        Path stage = Staging.stage(paths.stateDir().resolve("lib"), unreadable);
        List<String> out = new ArrayList<>(List.of(entries));
        for (String name : unreadable.keySet()) out.set(Integer.parseInt(name.substring(0, name.indexOf('-'))), stage.resolve(name).toString());
        return String.join(File.pathSeparator, out);
    }

    /**
     * The VISOR_CACHE for the VMM: the cache the VMM would use anyway (VISOR_CACHE, else
     * ~/.cache/visor, as visor-images finds it) when user {@code u} can read its default image,
     * else a copy of that image in STATE/cache/KEY/. (Its kernel is read at boot, from this path.)
     */
    Path guestImageCache(Map<String, String> env, int u, Set<Integer> groups) throws IOException {
        String v = env.get("VISOR_CACHE");
        Path cache = v != null && !v.isBlank() ? Path.of(v) : dev.visor.images.ImageStore.standardCacheDirectory();
        Path image = cache.resolve("images").resolve("default");
        if (!Files.isDirectory(image) || FileAccess.canReadTree(image, u, groups, stat)) return cache;
        return Staging.stage(paths.stateDir().resolve("cache"), Map.of("images/default", image));
    }

    // ---------------------------------------------------------------- processes

    /**
     * Kills every process running as {@code uid} (any of its uids): leftovers of a VMM that ended.
     * Spared: the VMM of another daemon's VM with the same id (its command line names another
     * state dir), as when two daemons run on one host in tests. (Their VMs share a user then:
     * isolation assumes one daemon per host.)
     */
    static void killProcessesOf(int uid, Path stateDir) {
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path proc : procs) {
                try {
                    for (String line : Files.readAllLines(proc.resolve("status"), java.nio.charset.StandardCharsets.ISO_8859_1)) { // its name is the process's to choose
                        if (!line.startsWith("Uid:")) continue;
                        String[] f = line.split("\\s+");
                        if (List.of(f).subList(1, Math.min(f.length, 5)).contains(Integer.toString(uid)) // real, effective, saved, fs
                                && !anotherDaemonsVmm(Files.readString(proc.resolve("cmdline"), java.nio.charset.StandardCharsets.ISO_8859_1).split("\0"), stateDir)) {
                            ProcessHandle.of(Long.parseLong(proc.getFileName().toString())).ifPresent(ProcessHandle::destroyForcibly);
                        }
                        break;
                    }
                } catch (IOException | RuntimeException ignored) {
                    // gone meanwhile
                }
            }
        } catch (IOException ignored) {
            // no /proc: nothing to find
        }
    }

    static boolean anotherDaemonsVmm(String[] args, Path stateDir) {
        for (int i = 0; i + 1 < args.length; i++) {
            if (args[i].equals("--exit-status-file")) return !Path.of(args[i + 1]).startsWith(stateDir);
        }
        return false;
    }

    /** What {@link #prepare} needs of a snapshot's manifest (a file a VMM wrote: only numbers and paths are taken). */
    record Manifest(int cpus, long memoryBytes, List<Path> disks) {
        static Manifest read(Path file) throws IOException {
            if (Files.isSymbolicLink(file)) throw new IOException(file + " is a symbolic link");
            int cpus = 1;
            long memory = 0;
            List<Path> disks = new ArrayList<>();
            try {
                for (String line : Files.readAllLines(file)) {
                    int eq = line.indexOf('=');
                    if (eq < 0) continue;
                    String k = line.substring(0, eq), v = line.substring(eq + 1);
                    if (k.equals("cpus")) cpus = Integer.parseInt(v);
                    else if (k.equals("memory")) memory = Long.parseLong(v);
                    else if (k.matches("disk[0-9]+\\.path")) disks.add(Path.of(v));
                }
            } catch (NoSuchFileException e) {
                throw new NoSuchFileException(file.toString(), null, "the snapshot's manifest " + file + " is missing");
            } catch (NumberFormatException | java.nio.file.InvalidPathException e) {
                throw new IOException("the snapshot's manifest " + file + " is damaged: " + e.getMessage());
            }
            return new Manifest(cpus, memory, disks);
        }
    }
}
