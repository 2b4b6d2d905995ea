package dev.visor.daemon.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

class VmSampleTest {
    static final String FULL = "ok instret=123 vcpu_ns=1500000000 disk_read_bytes=1 disk_write_bytes=2 disk_read_ops=3"
            + " disk_write_ops=4 net_rx_bytes=5 net_tx_bytes=6 net_rx_packets=7 net_tx_packets=8 memory=536870912 state=running";

    @Test
    void parsesAFullStatsLine() {
        VmSample s = VmSample.parseStats("web1", "running", FULL, 4096, 1 << 30, 2);
        assertEquals(new VmSample("web1", "running", 1.5, 123, 1, 2, 3, 4, 5, 6, 7, 8, 4096, 1 << 30, 2), s);
    }

    @Test
    void vcpuNanosBecomeSeconds() {
        assertEquals(4.56e-7, VmSample.parseStats("a", "running", "ok vcpu_ns=456", 0, 1, 0).vcpuSeconds(), 1e-20);
        assertEquals(Long.MAX_VALUE / 1e9,
                VmSample.parseStats("a", "running", "ok vcpu_ns=" + Long.MAX_VALUE, 0, 1, 0).vcpuSeconds());
    }

    @Test
    void stateAndMemoryComeFromTheLineOnlyWhenNotGiven() {
        VmSample s = VmSample.parseStats("web1", null, FULL, 0, 0, 0);
        assertEquals("running", s.state());
        assertEquals(536870912L, s.memoryBytes());
        // the daemon's own view wins
        s = VmSample.parseStats("web1", "paused", FULL, 0, 1024, 0);
        assertEquals("paused", s.state());
        assertEquals(1024L, s.memoryBytes());
        // nobody says
        assertEquals("unknown", VmSample.parseStats("web1", " ", "ok instret=1", 0, 0, 0).state());
    }

    @Test
    void parsesAPartialLine() {
        VmSample s = VmSample.parseStats("b", "running", "ok instret=7 net_tx_bytes=9", 100, 200, 1);
        assertEquals(new VmSample("b", "running", 0, 7, 0, 0, 0, 0, 0, 9, 0, 0, 100, 200, 1), s);
    }

    @Test
    void ignoresUnknownKeysAndOrder() {
        VmSample s = VmSample.parseStats("b", "running", "ok future_counter=5 net_rx_packets=3 x=y instret=1\n", 0, 1, 0);
        assertEquals(1, s.instructions());
        assertEquals(3, s.netRxPackets());
    }

    @Test
    void garbageGivesZeros() {
        VmSample zero = new VmSample("g", "running", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 512, 0);
        for (String line : new String[] {null, "", "   ", "%%% \u0000 not a stats line ===", "error: unknown command",
                "error: instret=5", "ok instret=-5 vcpu_ns=abc disk_read_bytes=99999999999999999999 =3 disk_write_ops= foo",
                "ok instret=1e3 disk_read_ops=0x10 net_rx_bytes=+4"}) {
            assertEquals(zero, VmSample.parseStats("g", "running", line, 0, 512, 0), String.valueOf(line));
        }
    }

    @Test
    void negativeRssBecomesZero() {
        assertEquals(0, VmSample.parseStats("a", "stopped", null, -1, 1, 0).residentBytes());
    }

    @Test
    void idleSampleHasNoCounters() {
        assertEquals(new VmSample("a", "stopped", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1024, 3), VmSample.idle("a", "stopped", 1024, 3));
        assertEquals("unknown", VmSample.idle("a", null, 1024, 3).state());
    }

    @Test
    void residentBytesOfAStatusFile(@TempDir Path dir) throws IOException {
        Path status = dir.resolve("status");
        Files.writeString(status, "Name:\tjava\nVmPeak:\t 9999 kB\nVmRSS:\t    1768 kB\nRssAnon:\t 1000 kB\n");
        assertEquals(1768L * 1024, VmSample.residentBytes(status));
        Files.writeString(status, "Name:\tzombie\nState:\tZ (zombie)\n");
        assertEquals(0, VmSample.residentBytes(status));
        assertEquals(0, VmSample.residentBytes(dir.resolve("gone")));
    }

    @Test
    @EnabledOnOs(OS.LINUX)
    void residentBytesOfRealProcesses() {
        long self = VmSample.residentBytes(ProcessHandle.current().pid());
        assertTrue(self > 1 << 20, "this JVM has more than 1 MiB resident: " + self);
        assertEquals(0, VmSample.residentBytes(0));
        assertEquals(0, VmSample.residentBytes(-5));
        assertEquals(0, VmSample.residentBytes(Integer.MAX_VALUE + 10L)); // beyond pid_max: no such process
    }
}
