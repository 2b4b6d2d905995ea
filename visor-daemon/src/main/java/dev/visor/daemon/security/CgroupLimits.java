package dev.visor.daemon.security;

import java.io.IOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.stream.Stream;

/**
 * CPU and memory limits for VMM processes with cgroup v2: VM {@code ID}'s VMM runs in
 * {@code ROOT/visor.slice/vm-ID/} with {@code cpu.max} = its vCPUs and {@code memory.max} = its
 * RAM plus the VMM's own overhead, so a guest (or a broken VMM) cannot take more of the host than
 * it was given. The root is a parameter so tests can use a plain directory in place of
 * /sys/fs/cgroup.
 */
public final class CgroupLimits {
    public static final Path DEFAULT_ROOT = Path.of("/sys/fs/cgroup");
    static final String SLICE = "visor.slice";
    static final long PERIOD_US = 100_000;
    /**
     * What the VMM needs beside guest RAM: its JVM (heap up to -Xmx512m as visor daemon starts
     * it, plus metaspace, code cache, thread stacks, direct buffers). Too little gets the VMM
     * OOM-killed, which the guest sees as a crash, so this errs on the large side.
     */
    static final long VMM_OVERHEAD_BYTES = 768L << 20;

    private final Path root;

    public CgroupLimits(Path root) {
        this.root = root;
    }

    /** Whether {@code root} is a cgroup v2 hierarchy offering the cpu and memory controllers. */
    public boolean available() {
        try {
            List<String> controllers = List.of(Files.readString(root.resolve("cgroup.controllers")).strip().split("\\s+"));
            return controllers.contains("cpu") && controllers.contains("memory");
        } catch (IOException e) {
            return false; // no such file: cgroup v1 or none
        }
    }

    public Path dir(long vmId) { return root.resolve(SLICE).resolve("vm-" + vmId); }

    static String cpuMax(int cpus) { return cpus * PERIOD_US + " " + PERIOD_US; }

    static String memoryMax(long guestBytes) { return Long.toString(guestBytes + VMM_OVERHEAD_BYTES); }

    /**
     * Makes (or reuses) VM {@code vmId}'s cgroup with its limits. The controllers are switched on
     * for the children of the root and of visor.slice first: in cgroup v2 a cgroup offers a
     * controller only when its parent delegates it through {@code cgroup.subtree_control}.
     */
    public Path create(long vmId, int cpus, long memoryBytes) throws IOException {
        Path slice = root.resolve(SLICE);
        remove(vmId); // a cgroup left by a VMM that ended while no daemon watched it
        write(root.resolve("cgroup.subtree_control"), "+cpu +memory");
        Files.createDirectories(slice);
        write(slice.resolve("cgroup.subtree_control"), "+cpu +memory");
        Path dir = dir(vmId);
        Files.createDirectories(dir);
        write(dir.resolve("cpu.max"), cpuMax(cpus));
        write(dir.resolve("memory.max"), memoryMax(memoryBytes));
        return dir;
    }

    /** Moves process {@code pid} (the VMM, just started) into VM {@code vmId}'s cgroup. */
    public void attach(long vmId, long pid) throws IOException {
        write(dir(vmId).resolve("cgroup.procs"), Long.toString(pid));
    }

    /**
     * Removes VM {@code vmId}'s cgroup (after its VMM ended). In cgroupfs a cgroup is removed with
     * rmdir although it shows files; in a plain directory (tests) the files go first. A cgroup
     * that still has processes stays (rmdir: EBUSY); the next {@link #create} reuses it.
     */
    public void remove(long vmId) {
        Path dir = dir(vmId);
        try {
            Files.delete(dir);
        } catch (NoSuchFileException e) {
            // none
        } catch (DirectoryNotEmptyException e) {
            try (Stream<Path> s = Files.list(dir)) {
                for (Path f : s.toList()) if (Files.isRegularFile(f)) Files.delete(f);
                Files.delete(dir);
            } catch (IOException ignored) {
                // left in place: reused by the next create
            }
        } catch (IOException ignored) {
            // busy: reused by the next create
        }
    }

    /** Writes a control file; CREATE only matters for a plain directory (cgroupfs has the files already). */
    private static void write(Path file, String value) throws IOException {
        Files.writeString(file, value + "\n", StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
    }
}
