package dev.visor.daemon.security;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The cgroup v2 writer, against a plain directory standing in for /sys/fs/cgroup. */
class CgroupLimitsTest {
    @TempDir
    Path root;

    @Test
    void availableOnlyWithCgroupV2OfferingCpuAndMemory() throws Exception {
        CgroupLimits c = new CgroupLimits(root);
        assertFalse(c.available(), "no cgroup.controllers: cgroup v1 or none");
        Files.writeString(root.resolve("cgroup.controllers"), "cpuset io pids\n");
        assertFalse(c.available());
        Files.writeString(root.resolve("cgroup.controllers"), "cpuset cpu io memory hugetlb pids rdma misc\n");
        assertTrue(c.available());
    }

    @Test
    void aVmsCgroupGetsItsLimitsItsProcessAndGoesAway() throws Exception {
        CgroupLimits c = new CgroupLimits(root);
        Path dir = c.create(7, 2, 512L << 20);
        assertEquals(root.resolve("visor.slice/vm-7"), dir);
        assertEquals("+cpu +memory\n", Files.readString(root.resolve("cgroup.subtree_control")));
        assertEquals("+cpu +memory\n", Files.readString(root.resolve("visor.slice/cgroup.subtree_control")));
        assertEquals("200000 100000\n", Files.readString(dir.resolve("cpu.max")));
        assertEquals(((512L << 20) + CgroupLimits.VMM_OVERHEAD_BYTES) + "\n", Files.readString(dir.resolve("memory.max")));

        c.attach(7, 4242);
        assertEquals("4242\n", Files.readString(dir.resolve("cgroup.procs")));

        // a second create (a restart) starts from fresh files
        c.create(7, 1, 64L << 20);
        assertEquals("100000 100000\n", Files.readString(dir.resolve("cpu.max")));
        assertFalse(Files.exists(dir.resolve("cgroup.procs")));

        c.remove(7);
        assertFalse(Files.exists(dir));
        c.remove(7); // nothing there: no error
        assertTrue(Files.isDirectory(root.resolve("visor.slice")), "the slice stays for the other VMs");
    }
}
