package dev.visor.daemon.security;

import dev.visor.daemon.Daemon;
import dev.visor.daemon.DaemonPaths;
import dev.visor.daemon.images.ImageStore;
import dev.visor.daemon.model.DiskRef;
import dev.visor.daemon.model.RestartPolicy;
import dev.visor.daemon.model.VmDefinition;
import dev.visor.daemon.model.VmRecord;
import dev.visor.daemon.vm.VmmLauncher;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Isolation for real (root only): a daemon's state dir, VMMs started by the launcher as their own
 * users ({@link ProbeVmm} stands in for {@code visor run} and reports what it can reach), a
 * snapshot and a clone of it. The cgroup side writes to a plain directory: this host may well
 * have no cgroup v2.
 */
class IsolationRootTest {
    @TempDir
    Path dir;

    private DaemonPaths paths;
    private ImageStore images;
    private Isolation isolation;
    private Path cgroups;
    private final List<Process> started = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        assumeTrue(Isolation.runningAsRoot(), "isolation needs root");
        assumeTrue(Files.isExecutable(Isolation.SETPRIV), "no setpriv");
        // JUnit makes its temporary directories 0700: let VMM users pass through, as /var/lib does
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
        // a real daemon makes the state dir, its database and admin token (and sets the state dir up for isolation)
        try (Daemon d = Daemon.start(new Daemon.Config(dir.resolve("state"), "127.0.0.1", 0, List.of("/bin/false"), Map.of()))) {
            paths = d.paths();
        }
        assertEquals(0711, mode(paths.stateDir()));
        images = new ImageStore(paths.images());
        for (String name : List.of("a.raw", "b.raw", "base.raw")) images.create(name, "raw", 1 << 20, null);
        Labels.set(paths.images().resolve("a.raw"), "visor-vm-1"); // as the Supervisor labels writable disks
        Labels.set(paths.images().resolve("b.raw"), "visor-vm-2");
        cgroups = Files.createDirectories(dir.resolve("cgroup"));
        Files.writeString(cgroups.resolve("cgroup.controllers"), "cpu memory\n");
        isolation = Isolation.on(paths, new CgroupLimits(cgroups));
    }

    @AfterEach
    void tearDown() throws Exception {
        for (Process p : started) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static VmRecord vm(long id, String name, List<DiskRef> disks, String snapshot) {
        return IsolationTest.vm(id, name, new VmDefinition(name, 1, 64L << 20, disks, List.of("none"), true, false, null, false,
                RestartPolicy.NEVER, snapshot));
    }

    private Path state(String p) { return paths.stateDir().resolve(p); }

    /** Starts the probe as VM {@code vm}'s VMM with {@code env}, waits for its report: "what path" → "ok"/"denied", and the rest. */
    private Map<String, String> probe(VmRecord vm, Map<String, String> env) throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> cmd = List.of(java, "-Xshare:auto", "-cp", System.getProperty("java.class.path"), ProbeVmm.class.getName());
        VmmLauncher launcher = new VmmLauncher(cmd, paths, images, env, isolation);
        Process p = launcher.launch(vm);
        started.add(p);
        Path report = paths.runDir(vm.id()).resolve("probe");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.exists(report)) {
            if (!p.isAlive()) fail("the probe exited " + p.exitValue() + ": " + Files.readString(paths.vmmLog(vm.id())));
            if (System.nanoTime() > deadline) fail("no report from the probe: " + Files.readString(paths.vmmLog(vm.id())));
            Thread.sleep(50);
        }
        Map<String, String> out = new HashMap<>();
        for (String line : Files.readAllLines(report)) {
            int last = line.lastIndexOf(' ');
            if (line.startsWith("read ") || line.startsWith("write ")) out.put(line.substring(0, last), line.substring(last + 1));
            else out.put(line.substring(0, line.indexOf(' ')), line.substring(line.indexOf(' ') + 1));
        }
        out.put("pid", Long.toString(p.pid()));
        return out;
    }

    private static String paths(Path... ps) {
        return String.join(":", java.util.Arrays.stream(ps).map(Path::toString).toList());
    }

    private static int mode(Path p) throws IOException {
        return (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777;
    }

    private static int owner(Path p) throws IOException { return (Integer) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS); }

    private static int group(Path p) throws IOException { return (Integer) Files.getAttribute(p, "unix:gid", LinkOption.NOFOLLOW_LINKS); }

    @Test
    void eachVmmRunsAsItsOwnUserAndReachesOnlyItsOwnFiles() throws Exception {
        VmRecord one = vm(1, "one", List.of(new DiskRef("a.raw", false), new DiskRef("base.raw", true)), null);
        VmRecord two = vm(2, "two", List.of(new DiskRef("b.raw", false)), null);
        Map<String, String> r2 = probe(two, Map.of());
        Map<String, String> r1 = probe(one, Map.of(
                "PROBE_READ", paths(state("visor.db"), state("admin.token"), state("images/b.raw"), state("run/2"), state("vms/2"),
                        state("images/base.raw"), state("images"), state("vms"), state("lib")),
                "PROBE_WRITE", paths(state("images/a.raw"), state("run/1"), state("images/base.raw"), state("images/b.raw"),
                        state("images"), state("vms/1"), state("snapshots/one"), state("snapshots/two"), state("run/2"))));

        assertEquals("200001 200001 200001 200001", r1.get("Uid:"));
        assertEquals("200001 200001 200001 200001", r1.get("Gid:"));
        assertEquals("200000", r1.get("Groups:").strip(), "only the VMM group beside its own");
        assertEquals("0000000000000000", r1.get("CapEff:"));
        assertEquals("0000000000000000", r1.get("CapBnd:"));
        assertEquals("1", r1.get("NoNewPrivs:"));
        assertEquals("200002 200002 200002 200002", r2.get("Uid:"));
        String uid = Files.readAllLines(Path.of("/proc", r1.get("pid"), "status")).stream().filter(l -> l.startsWith("Uid:")).findFirst().orElseThrow();
        assertTrue(uid.matches("Uid:\\s+200001\\s.*"), uid);

        for (String secret : List.of("visor.db", "admin.token", "images/b.raw", "run/2", "vms/2", "images", "vms")) {
            assertEquals("denied", r1.get("read " + state(secret)), "read " + secret);
        }
        assertEquals("ok", r1.get("read " + state("images/base.raw")), "its read-only disk");
        assertEquals("ok", r1.get("read " + state("lib")), "the staged class path");
        assertEquals("ok", r1.get("write " + state("images/a.raw")), "its disk");
        assertEquals("ok", r1.get("write " + state("run/1")), "its run dir");
        assertEquals("ok", r1.get("write " + state("vms/1")), "its console log's dir");
        assertEquals("ok", r1.get("write " + state("images")), "a new overlay beside its disk");
        assertEquals("ok", r1.get("write " + state("snapshots/one")), "its snapshots");
        for (String other : List.of("images/base.raw", "images/b.raw", "snapshots/two", "run/2")) {
            assertEquals("denied", r1.get("write " + state(other)), "write " + other);
        }
        assertEquals("ok", r1.get("jackson"), "the class path, staged out of /root/.m2, loads");
        assertEquals(paths.runDir(1).toString(), r1.get("home"));

        // the files as the VMM users have them
        assertEquals(200_001, owner(paths.runDir(1)));
        assertEquals(0700, mode(paths.runDir(1)));
        assertEquals(0, owner(paths.vmDir(1)));
        assertEquals(200_001, group(paths.vmDir(1)));
        assertEquals(01770, mode(paths.vmDir(1)));
        assertEquals(0, owner(paths.vmmLog(1)), "the daemon's log stays root's");
        assertEquals(200_001, owner(state("images/a.raw")));
        assertEquals(0600, mode(state("images/a.raw")));
        assertEquals(0, owner(state("images/base.raw")));
        assertEquals(200_001, group(state("images/base.raw")), "one reader: its group");
        assertEquals(0640, mode(state("images/base.raw")));
        assertEquals(01730, mode(state("images")));
        assertEquals(Isolation.VMM_GROUP, group(state("images")));
        assertEquals(0600, mode(state("visor.db")));
        assertEquals(0600, mode(state("admin.token")));
        Path report = paths.runDir(1).resolve("probe");
        assertEquals(200_001, owner(report));
        assertEquals(0600, mode(report), "umask 077");

        // a second VM reading base.raw makes it the VMM group's
        VmRecord three = vm(3, "three", List.of(new DiskRef("base.raw", true)), null);
        Map<String, String> r3 = probe(three, Map.of("PROBE_READ", paths(state("images/base.raw"), state("images/a.raw"))));
        assertEquals("ok", r3.get("read " + state("images/base.raw")));
        assertEquals("denied", r3.get("read " + state("images/a.raw")));
        assertEquals(Isolation.VMM_GROUP, group(state("images/base.raw")));

        // the cgroup: limits, the process, and gone when it ends
        Path cg = cgroups.resolve("visor.slice/vm-1");
        assertEquals("100000 100000\n", Files.readString(cg.resolve("cpu.max")));
        assertEquals(((64L << 20) + CgroupLimits.VMM_OVERHEAD_BYTES) + "\n", Files.readString(cg.resolve("memory.max")));
        assertEquals(r1.get("pid") + "\n", Files.readString(cg.resolve("cgroup.procs")));
        Process p1 = started.stream().filter(p -> Long.toString(p.pid()).equals(r1.get("pid"))).findFirst().orElseThrow();
        p1.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (Files.exists(cg) && System.nanoTime() < deadline) Thread.sleep(20);
        assertFalse(Files.exists(cg), "the cgroup is removed after the VMM exits");
        assertTrue(Files.exists(cgroups.resolve("visor.slice/vm-2")), "VM 2's stays while it runs");
    }

    @Test
    void aSnapshotIsSealedAndACloneReadsItButNothingElse() throws Exception {
        VmRecord one = vm(1, "one", List.of(new DiskRef("a.raw", false)), null);
        Path snap = paths.snapshot("one", "s1");
        Path overlay = state("images/a-s1.raw");
        String manifest = "visor-snapshot 1\ncpus=2\nmemory=134217728\ndisks=1\ndisk0.path=" + state("images/a.raw")
                + "\ndisk0.format=raw\ndisk0.readonly=false\n";
        Map<String, String> r1 = probe(one, Map.of("PROBE_SNAPSHOT", snap.toString(), "PROBE_OVERLAY", overlay.toString(),
                "PROBE_MANIFEST", manifest));
        assertEquals("ok", r1.get("snapshot"));
        assertEquals(200_001, owner(snap));
        assertEquals(200_001, owner(overlay));
        assertEquals(0600, mode(overlay), "its new overlay is its own only");
        assertEquals(200_001, Isolation.processUid(Long.parseLong(r1.get("pid"))));
        for (Process p : started) p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        // as the Supervisor does after a snapshot: the frozen image is the snapshot's, the overlay the VM's disk
        Labels.set(state("images/a.raw"), "visor-snapshot");
        Labels.set(overlay, "visor-vm-1");
        assertTrue(isolation.madeBy(one, overlay), "the overlay is the VMM's own file");
        assertFalse(isolation.madeBy(one, state("images/b.raw")), "another VM's image is not");
        assertFalse(isolation.madeBy(one, state("images/base.raw")), "nor is one of root's");
        VmRecord oldVmm = new VmRecord(1, one.definition(), one.label(), one.state(), ProcessHandle.current().pid(), null, null, null, 0,
                one.created(), null);
        assertTrue(isolation.madeBy(oldVmm, state("images/base.raw")), "a VMM from before isolation runs as root, as its files");
        isolation.sealSnapshot(one, snap);
        assertEquals(0, owner(snap), "sealed: the VMM that wrote it can no longer change it");
        assertEquals(0, owner(snap.resolve("ram")));
        assertEquals(0, group(snap.resolve("ram")), "root's alone until a clone starts");
        assertEquals(0640, mode(snap.resolve("ram")));
        assertEquals(0, owner(state("images/a.raw")), "the frozen image is sealed with it");
        assertEquals(200_001, group(state("images/a.raw")), "it backs VM one's disk now");
        assertEquals(0640, mode(state("images/a.raw")));

        VmRecord clone = vm(4, "clone", List.of(), "one/s1");
        Map<String, String> r4 = probe(clone, Map.of(
                "PROBE_READ", paths(snap.resolve("ram"), snap.resolve("manifest"), state("images/a.raw"), overlay, state("images/b.raw")),
                "PROBE_WRITE", paths(snap.resolve("ram"), state("images/a.raw"), state("snapshots/one"), paths.vmDir(4))));
        assertEquals("200004 200004 200004 200004", r4.get("Uid:"));
        assertEquals("ok", r4.get("read " + snap.resolve("ram")));
        assertEquals(200_004, group(snap.resolve("ram")), "one clone: its group alone");
        assertEquals("ok", r4.get("read " + snap.resolve("manifest")));
        assertEquals("ok", r4.get("read " + state("images/a.raw")), "the frozen image, backing of its overlays");
        assertEquals("denied", r4.get("read " + overlay), "the source VM's live disk");
        assertEquals("denied", r4.get("read " + state("images/b.raw")));
        assertEquals("denied", r4.get("write " + snap.resolve("ram")));
        assertEquals("denied", r4.get("write " + state("images/a.raw")));
        assertEquals("denied", r4.get("write " + state("snapshots/one")));
        assertEquals("ok", r4.get("write " + paths.vmDir(4)), "where its overlays go");
        assertEquals(0, owner(state("images/a.raw")), "frozen: nobody writes it");
        assertEquals(Isolation.VMM_GROUP, group(state("images/a.raw")), "read by two VMs now");
        assertEquals("200000 100000\n", Files.readString(cgroups.resolve("visor.slice/vm-4/cpu.max")), "the clone's shape is the snapshot's");
        assertEquals(((128L << 20) + CgroupLimits.VMM_OVERHEAD_BYTES) + "\n", Files.readString(cgroups.resolve("visor.slice/vm-4/memory.max")));

        // VM one starts again on its overlay: the frozen image is read-only for it now
        Map<String, String> again = probe(vm(1, "one", List.of(new DiskRef("a-s1.raw", false)), null), Map.of(
                "PROBE_WRITE", paths(overlay, state("images/a.raw"))));
        assertEquals("ok", again.get("write " + overlay));
        assertEquals("denied", again.get("write " + state("images/a.raw")));
    }

    @Test
    void aWritableImageOfAnotherExistingVmIsNotHandedOver() throws Exception {
        probe(vm(2, "two", List.of(new DiskRef("b.raw", false)), null), Map.of());
        // say a VMM fooled the daemon into giving VM 1 the image of VM 2
        IOException e = org.junit.jupiter.api.Assertions.assertThrows(IOException.class,
                () -> isolation.prepare(vm(1, "one", List.of(new DiskRef("b.raw", false)), null), List.of("/bin/true"), Map.of()));
        assertTrue(e.getMessage().contains("VM id 2"), e.getMessage());
        assertEquals(200_002, owner(state("images/b.raw")));
    }

    @Test
    void theCommandLineRunsTheVmmUnderSetprivWhenOnAndAsItIsWhenOff() throws Exception {
        VmRecord one = vm(1, "one", List.of(), null);
        List<String> cmd = List.of("/bin/true");
        List<String> on = isolation.prepare(one, cmd, Map.of()).command();
        assertEquals(List.of("/usr/bin/setpriv", "--reuid=200001", "--regid=200001", "--groups=200000", "--no-new-privs",
                "--inh-caps=-all", "--bounding-set=-all", "/bin/sh", "-c", Isolation.UMASK_SHELL, "/bin/true"), on);
        assertEquals(cmd, Isolation.forDaemon(paths, Map.of("VISOR_ISOLATION", "off")).prepare(one, cmd, Map.of()).command());
    }
}
