package dev.visor.daemon.security;

import dev.visor.daemon.DaemonPaths;
import dev.visor.daemon.images.ImageStore;
import dev.visor.daemon.model.RestartPolicy;
import dev.visor.daemon.model.VmDefinition;
import dev.visor.daemon.model.VmRecord;
import dev.visor.daemon.model.VmState;
import dev.visor.daemon.vm.VmmLauncher;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The parts of isolation that need no root: when it is on, the command line when off, class path staging, manifests. */
class IsolationTest {
    @TempDir
    Path dir;

    static VmRecord vm(long id, String name, VmDefinition d) {
        return new VmRecord(id, d, "visor-vm-" + id, VmState.STOPPED, 0, null, null, null, 0, Instant.now(), null);
    }

    static VmDefinition def(String name) {
        return new VmDefinition(name, 1, 64L << 20, List.of(), List.of("none"), true, false, null, false, RestartPolicy.NEVER, null);
    }

    @Test
    void onOnlyForRootAndUnlessTurnedOff() {
        assertTrue(Isolation.wanted(true, null));
        assertTrue(Isolation.wanted(true, "on"));
        assertFalse(Isolation.wanted(true, "off"));
        assertFalse(Isolation.wanted(true, " OFF "));
        assertFalse(Isolation.wanted(false, null), "not root: there is no other user to switch to");
        assertEquals(200_007, Isolation.uid(7));
    }

    @Test
    void turnedOffTheCommandLineIsAsBeforeWithoutSetpriv() throws Exception {
        DaemonPaths paths = new DaemonPaths(dir.resolve("state"));
        List<String> cmd = List.of("/usr/bin/java", "-cp", "/root/.m2/x.jar", "dev.visor.cli.Main");
        Isolation off = Isolation.forDaemon(paths, Map.of("VISOR_ISOLATION", "off"));
        assertFalse(off.enabled());
        Isolation.Launch l = off.prepare(vm(1, "a", def("a")), cmd, Map.of());
        assertEquals(cmd, l.command());
        assertTrue(l.environment().isEmpty());
        // and through the launcher as the daemon makes it (Config.vmmEnv carries the switch)
        VmmLauncher launcher = new VmmLauncher(cmd, paths, new ImageStore(paths.images()), Map.of("VISOR_ISOLATION", "off"));
        assertFalse(launcher.isolation().enabled());
        assertFalse(Isolation.off(paths).prepare(vm(2, "b", def("b")), cmd, Map.of()).command().stream().anyMatch(a -> a.contains("setpriv")));
    }

    @Test
    void unreadableClassPathEntriesAreStagedOthersKept() throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        if (!FileAccess.canReach(dir, Isolation.UID_BASE + 1, Set.of(), FileAccess.REAL)) return; // an odd /tmp
        Path home = Files.createDirectories(dir.resolve("root/.m2"));
        Files.setPosixFilePermissions(dir.resolve("root"), PosixFilePermissions.fromString("rwx------"));
        Path jar = Files.writeString(home.resolve("lib.jar"), "jar");
        Path open = Files.createDirectories(dir.resolve("work/classes"));
        Files.setPosixFilePermissions(dir.resolve("work"), PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxr-xr-x"));
        DaemonPaths paths = new DaemonPaths(dir.resolve("state"));
        Isolation iso = Isolation.on(paths, null);
        String cp = jar + ":" + open + ":" + dir.resolve("missing.jar");
        List<String> out = iso.readableCommand(List.of("java", "-Xmx1g", "-cp", cp, "Main"), 200_001, Set.of(200_001, Isolation.VMM_GROUP));
        String[] entries = out.get(3).split(":");
        assertTrue(entries[0].startsWith(paths.stateDir().resolve("lib") + "/"), entries[0]);
        assertEquals("jar", Files.readString(Path.of(entries[0])));
        assertEquals(open.toString(), entries[1], "readable: used where it is");
        assertEquals(dir.resolve("missing.jar").toString(), entries[2]);
        assertEquals(List.of("java", "-Xmx1g", "-cp"), out.subList(0, 3));
        assertEquals("Main", out.get(4));
    }

    @Test
    void usersAndSubordinateRangesInTheVmUsersRangeAreFound() throws Exception {
        Path passwd = Files.writeString(dir.resolve("passwd"), "root:x:0:0:root:/root:/bin/sh\nann:x:1000:1000::/home/ann:/bin/sh\n");
        Path subuid = Files.writeString(dir.resolve("subuid"), "ann:100000:65536\n");
        assertEquals(null, Isolation.rangeClash(passwd, subuid));
        Files.writeString(subuid, "ann:100000:65536\nbob:165536:65536\n");
        assertEquals("bob's ids 165536-231071 in " + subuid, Isolation.rangeClash(passwd, subuid));
        Files.writeString(passwd, "vm:x:200003:200003::/:/bin/false\n");
        assertTrue(Isolation.rangeClash(passwd).contains("user vm (uid 200003)"));
        assertEquals(null, Isolation.rangeClash(dir.resolve("none")));
    }

    @Test
    void anotherDaemonsVmmIsToldByItsStateDir() {
        Path state = Path.of("/var/lib/visor");
        assertFalse(Isolation.anotherDaemonsVmm(new String[] {"java", "Main", "run", "--exit-status-file", "/var/lib/visor/run/1/exit"}, state));
        assertTrue(Isolation.anotherDaemonsVmm(new String[] {"java", "Main", "run", "--exit-status-file", "/tmp/b/state/run/1/exit"}, state));
        assertFalse(Isolation.anotherDaemonsVmm(new String[] {"/bin/sh", "-c", "sleep 1000"}, state), "a leftover: killed");
    }

    @Test
    void aManifestGivesShapeAndDisks() throws Exception {
        Path m = Files.writeString(dir.resolve("manifest"), """
                visor-snapshot 1
                cpus=2
                memory=268435456
                kernel=/root/.cache/visor/images/default/Image
                append=console=ttyS0 a=b
                disks=2
                disk0.path=/var/lib/visor/images/data.qcow2
                disk0.format=qcow2
                disk1.path=/var/lib/visor/images/ro.raw
                disk1.readonly=true
                """);
        Isolation.Manifest r = Isolation.Manifest.read(m);
        assertEquals(2, r.cpus());
        assertEquals(256L << 20, r.memoryBytes());
        assertEquals(List.of(Path.of("/var/lib/visor/images/data.qcow2"), Path.of("/var/lib/visor/images/ro.raw")), r.disks());
    }
}
