package dev.visor.daemon.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

class HostInventoryTest {
    @TempDir
    Path root;

    static void write(Path root, String relative, String content) throws IOException {
        Path p = root.resolve(relative);
        Files.createDirectories(p.getParent());
        Files.writeString(p, content);
    }

    /** A small x86 host: 2 CPUs in cpuinfo, a few sensors (some unreadable), cgroup v2. */
    static void fakeHost(Path root) throws IOException {
        write(root, "proc/sys/kernel/hostname", "h1\n");
        write(root, "proc/cpuinfo", """
                processor\t: 0
                vendor_id\t: GenuineIntel
                model name\t: Intel(R) Xeon(R) "Gold" 6230 CPU @ 2.10GHz
                flags\t\t: fpu vme misalignsse
                
                processor\t: 1
                vendor_id\t: GenuineIntel
                model name\t: Intel(R) Xeon(R) "Gold" 6230 CPU @ 2.10GHz
                flags\t\t: fpu vme misalignsse
                
                """);
        write(root, "proc/meminfo", """
                MemTotal:       16384 kB
                MemFree:         1000 kB
                MemAvailable:    8192 kB
                Buffers:          100 kB
                Cached:          2000 kB
                HugePages_Total:    0
                """);
        write(root, "proc/loadavg", "0.65 1.09 1.42 1/87 24032\n");
        write(root, "proc/stat", """
                cpu  100 20 30 400 50 6 7 8 9 10
                cpu0 50 10 15 200 25 3 3 4 4 5
                intr 12345
                """);
        write(root, "sys/class/thermal/thermal_zone0/type", "x86_pkg_temp\n");
        write(root, "sys/class/thermal/thermal_zone0/temp", "41000\n");
        write(root, "sys/class/thermal/thermal_zone1/type", "acpitz\n");
        write(root, "sys/class/thermal/thermal_zone1/temp", "garbage\n");          // unparsable: skipped
        write(root, "sys/class/thermal/thermal_zone10/type", "acpitz\n");
        write(root, "sys/class/thermal/thermal_zone10/temp", "30500\n");
        write(root, "sys/class/thermal/thermal_zone2/type", "acpitz\n");
        write(root, "sys/class/thermal/thermal_zone2/temp", "27800\n");
        Files.createDirectories(root.resolve("sys/class/thermal/thermal_zone3/temp")); // unreadable (a directory): skipped
        write(root, "sys/class/thermal/cooling_device0/type", "Processor\n");         // not a zone
        write(root, "sys/class/hwmon/hwmon0/name", "coretemp\n");
        write(root, "sys/class/hwmon/hwmon0/temp1_input", "45500\n");
        write(root, "sys/class/hwmon/hwmon0/temp1_label", "Package id 0\n");
        write(root, "sys/class/hwmon/hwmon0/temp10_input", "43000\n");
        write(root, "sys/class/hwmon/hwmon0/temp2_input", "-1500\n");
        write(root, "sys/class/hwmon/hwmon0/temp2_max", "100000\n");                   // not an input
        write(root, "sys/class/hwmon/hwmon1/temp1_input", "38000\n");                  // no name file
        write(root, "sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
    }

    @Test
    void readsAFakeHostExactly() throws IOException {
        fakeHost(root);
        HostInfo h = new HostInventory(root).info();
        assertEquals("h1", h.hostname());
        assertEquals("Intel(R) Xeon(R) \"Gold\" 6230 CPU @ 2.10GHz", h.cpuModel());
        assertEquals(2, h.cores());
        assertEquals(16384L * 1024, h.memoryBytes());
        assertEquals(8192L * 1024, h.memoryAvailableBytes());
        assertEquals(List.of(0.65, 1.09, 1.42), h.loadAverage());
        assertEquals(List.of(
                new Temperature("x86_pkg_temp", 41.0),
                new Temperature("acpitz", 27.8),
                new Temperature("acpitz_2", 30.5),
                new Temperature("coretemp/Package id 0", 45.5),
                new Temperature("coretemp/temp2", -1.5),
                new Temperature("coretemp/temp10", 43.0),
                new Temperature("hwmon1/temp1", 38.0)), h.temperatures());
        assertTrue(h.cgroupV2());
    }

    @Test
    void cpuTimesFromProcStat() throws IOException {
        fakeHost(root);
        CpuTimes t = new HostInventory(root).cpuTimes();
        // busy = user 100 + nice 20 + system 30 + irq 6 + softirq 7 + steal 8; guest 9 / guest_nice 10 are inside user / nice
        assertEquals(new CpuTimes(171, 621), t);
        assertEquals(450, t.idleJiffies());
        assertEquals(1.71, t.busySeconds(), 1e-12);
        assertEquals(4.5, t.idleSeconds(), 1e-12);
    }

    @Test
    void busyRatioBetweenTwoSamples() {
        CpuTimes a = new CpuTimes(1000, 4000), b = new CpuTimes(1300, 4400);
        assertEquals(0.75, b.busyRatioSince(a), 1e-12);
        assertEquals(0.0, a.busyRatioSince(a));
        assertEquals(0.0, a.busyRatioSince(b)); // backwards: 0, not negative
    }

    @Test
    void shortProcStatLineOfAnOldKernel() throws IOException {
        write(root, "proc/stat", "cpu 10 0 5 100\n");
        assertEquals(new CpuTimes(15, 115), new HostInventory(root).cpuTimes());
    }

    @Test
    void onlineCpuListIsPreferredOverCpuinfo() throws IOException {
        fakeHost(root);
        write(root, "sys/devices/system/cpu/online", "0-3,6,8-9\n");
        assertEquals(7, new HostInventory(root).cores());
        write(root, "sys/devices/system/cpu/online", "bogus\n"); // unparsable: cpuinfo's count
        assertEquals(2, new HostInventory(root).cores());
    }

    @Test
    void countsCpuLists() {
        assertEquals(1, HostInventory.countCpuList("0"));
        assertEquals(64, HostInventory.countCpuList("0-63"));
        assertEquals(5, HostInventory.countCpuList("0-1,4,6-7"));
        assertEquals(0, HostInventory.countCpuList(""));
        assertEquals(0, HostInventory.countCpuList("3-1"));
        assertEquals(0, HostInventory.countCpuList("a-b"));
    }

    @Test
    void riscvCpuinfoUsesUarchThenIsa() throws IOException {
        write(root, "proc/cpuinfo", """
                processor\t: 0
                hart\t\t: 1
                isa\t\t: rv64imafdc_zicsr_zifencei
                mmu\t\t: sv39
                uarch\t\t: sifive,u74-mc
                
                processor\t: 1
                hart\t\t: 2
                isa\t\t: rv64imafdc_zicsr_zifencei
                mmu\t\t: sv39
                uarch\t\t: sifive,u74-mc
                """);
        HostInventory inv = new HostInventory(root);
        assertEquals("sifive,u74-mc", inv.cpuModel());
        assertEquals(2, inv.cores());
        write(root, "proc/cpuinfo", "processor\t: 0\nhart\t\t: 0\nisa\t\t: rv64imac\nmmu\t\t: sv39\n\n");
        assertEquals("rv64imac", inv.cpuModel());
    }

    @Test
    void oldKernelWithoutMemAvailableEstimatesIt() throws IOException {
        write(root, "proc/meminfo", "MemTotal: 4000 kB\nMemFree: 1000 kB\nBuffers: 100 kB\nCached: 900 kB\n");
        HostInventory inv = new HostInventory(root);
        assertEquals(4000L * 1024, inv.memoryBytes());
        assertEquals(2000L * 1024, inv.memoryAvailableBytes());
    }

    @Test
    void cgroupV2NeedsCpuAndMemoryControllers() throws IOException {
        HostInventory inv = new HostInventory(root);
        assertFalse(inv.cgroupV2()); // no file (cgroup v1 or none)
        write(root, "sys/fs/cgroup/cgroup.controllers", "cpuset io memory pids\n");
        assertFalse(inv.cgroupV2()); // no cpu
        write(root, "sys/fs/cgroup/cgroup.controllers", "");
        assertFalse(inv.cgroupV2());
        write(root, "sys/fs/cgroup/cgroup.controllers", "cpu memory");
        assertTrue(inv.cgroupV2());
    }

    @Test
    void hostnameFallsBackToEtcHostname() throws IOException {
        write(root, "etc/hostname", "frometc\n");
        assertEquals("frometc", new HostInventory(root).hostname());
    }

    @Test
    void emptyTreeGivesFallbacks() {
        HostInventory inv = new HostInventory(root);
        HostInfo h = inv.info();
        assertEquals(new HostInfo("unknown", "unknown", 0, 0, 0, List.of(0.0, 0.0, 0.0), List.of(), false), h);
        assertEquals(CpuTimes.ZERO, inv.cpuTimes());
    }

    @Test
    void missingRootGivesFallbacks() {
        HostInventory inv = new HostInventory(root.resolve("does/not/exist"));
        assertEquals("unknown", inv.info().hostname());
        assertEquals(CpuTimes.ZERO, inv.cpuTimes());
    }

    @Test
    void garbageFilesGiveFallbacks() throws IOException {
        write(root, "proc/loadavg", "x y z\n");
        write(root, "proc/meminfo", "MemTotal: lots\n");
        write(root, "proc/stat", "cpu a b c d\n");
        write(root, "proc/cpuinfo", "\n\n");
        Files.createDirectories(root.resolve("sys/class/hwmon/hwmon0"));
        write(root, "sys/class/thermal/thermal_zone0/type", "t\n"); // no temp file
        HostInventory inv = new HostInventory(root);
        assertEquals(new HostInfo("unknown", "unknown", 0, 0, 0, List.of(0.0, 0.0, 0.0), List.of(), false), inv.info());
        assertEquals(CpuTimes.ZERO, inv.cpuTimes());
    }

    @Test
    @EnabledOnOs(OS.LINUX)
    void realHost() {
        HostInventory inv = new HostInventory();
        HostInfo h = inv.info();
        // Runtime counts the CPUs this JVM may use (affinity, cgroup quota): equal to the host's unless restricted
        assertEquals(Runtime.getRuntime().availableProcessors(), h.cores());
        assertTrue(h.memoryBytes() > 0);
        assertTrue(h.memoryAvailableBytes() > 0 && h.memoryAvailableBytes() <= h.memoryBytes());
        assertNotEquals(HostInventory.UNKNOWN, h.hostname());
        String arch = System.getProperty("os.arch");
        if (arch.equals("amd64") || arch.equals("x86_64")) assertNotEquals(HostInventory.UNKNOWN, h.cpuModel());
        assertEquals(3, h.loadAverage().size());
        assertTrue(h.loadAverage().stream().allMatch(l -> l >= 0));
        for (Temperature t : h.temperatures()) assertTrue(t.celsius() > -100 && t.celsius() < 200, t.toString());
        CpuTimes a = inv.cpuTimes();
        assertTrue(a.totalJiffies() > 0 && a.busyJiffies() > 0 && a.busyJiffies() < a.totalJiffies(), a.toString());
        CpuTimes b = inv.cpuTimes();
        assertTrue(b.totalJiffies() >= a.totalJiffies() && b.busyJiffies() >= a.busyJiffies());
    }
}
