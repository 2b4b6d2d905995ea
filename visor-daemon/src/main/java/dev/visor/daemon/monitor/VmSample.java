package dev.visor.daemon.monitor;

import java.nio.file.Path;
import java.util.Objects;

/**
 * What the daemon knows about one VM at a moment, for the metrics: its state, the counters of the VMM's
 * control socket {@code stats} answer (cumulative since the VMM process began; they restart from 0 when
 * the VM is restarted, which Prometheus counters allow) and the VMM process's resident memory.
 *
 * @param name           the VM's name
 * @param state          the VM's state as the API shows it (stopped, starting, running, paused, stopping, crashed)
 * @param vcpuSeconds    host CPU time of the vCPU threads (stats {@code vcpu_ns})
 * @param instructions   guest instructions retired, summed over vCPUs (stats {@code instret})
 * @param diskReadBytes  bytes read by the guest from its disks (stats {@code disk_read_bytes})
 * @param diskWriteBytes bytes written by the guest to its disks (stats {@code disk_write_bytes})
 * @param diskReadOps    read requests (stats {@code disk_read_ops})
 * @param diskWriteOps   write requests (stats {@code disk_write_ops})
 * @param netRxBytes     bytes the guest received (stats {@code net_rx_bytes})
 * @param netTxBytes     bytes the guest sent (stats {@code net_tx_bytes})
 * @param netRxPackets   frames the guest received (stats {@code net_rx_packets})
 * @param netTxPackets   frames the guest sent (stats {@code net_tx_packets})
 * @param residentBytes  the VMM process's resident set ({@code /proc/PID/status} VmRSS); 0 without a process
 * @param memoryBytes    the VM's configured memory
 * @param restarts       how often the daemon restarted the VM by its restart policy
 */
public record VmSample(String name, String state, double vcpuSeconds, long instructions,
                       long diskReadBytes, long diskWriteBytes, long diskReadOps, long diskWriteOps,
                       long netRxBytes, long netTxBytes, long netRxPackets, long netTxPackets,
                       long residentBytes, long memoryBytes, int restarts) {

    public VmSample {
        Objects.requireNonNull(name, "name");
        if (state == null || state.isBlank()) state = "unknown";
    }

    /** A VM with no VMM process (stopped or crashed): no counters, no resident memory. */
    public static VmSample idle(String name, String state, long memoryBytes, int restarts) {
        return new VmSample(name, state, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, memoryBytes, restarts);
    }

    /**
     * Makes a sample from the VMM's answer to {@code stats}, e.g. {@code ok instret=123 vcpu_ns=456
     * disk_read_bytes=1 disk_write_bytes=2 disk_read_ops=3 disk_write_ops=4 net_rx_bytes=5 net_tx_bytes=6
     * net_rx_packets=7 net_tx_packets=8 memory=536870912 state=running}. Unknown keys, words without
     * {@code =} and values that are not non-negative integers are ignored; missing counters are 0. An
     * {@code error...} answer, a blank line or null give no counters at all. Never throws (but for a null name).
     *
     * @param name        the VM's name
     * @param state       the daemon's view of the VM's state; when null or blank, the answer's {@code state=}
     *                    is used (else "unknown")
     * @param statsLine   the answer line (may be null)
     * @param rss         the VMM process's resident bytes (see {@link #residentBytes(long)})
     * @param memoryBytes the VM's configured memory; when 0 or less, the answer's {@code memory=} is used
     * @param restarts    the daemon's restart count of the VM
     */
    public static VmSample parseStats(String name, String state, String statsLine, long rss, long memoryBytes, int restarts) {
        long instret = 0, vcpuNs = 0, diskReadBytes = 0, diskWriteBytes = 0, diskReadOps = 0, diskWriteOps = 0;
        long netRxBytes = 0, netTxBytes = 0, netRxPackets = 0, netTxPackets = 0, memory = 0;
        String reportedState = null;
        String line = statsLine == null ? "" : statsLine.strip();
        if (!line.startsWith("error") && !line.startsWith("err ")) {
            for (String word : line.split("\\s+")) {
                int eq = word.indexOf('=');
                if (eq <= 0) continue;
                String key = word.substring(0, eq), value = word.substring(eq + 1);
                if (key.equals("state")) {
                    if (!value.isEmpty()) reportedState = value;
                    continue;
                }
                long v = counter(value);
                if (v < 0) continue;
                switch (key) {
                    case "instret" -> instret = v;
                    case "vcpu_ns" -> vcpuNs = v;
                    case "disk_read_bytes" -> diskReadBytes = v;
                    case "disk_write_bytes" -> diskWriteBytes = v;
                    case "disk_read_ops" -> diskReadOps = v;
                    case "disk_write_ops" -> diskWriteOps = v;
                    case "net_rx_bytes" -> netRxBytes = v;
                    case "net_tx_bytes" -> netTxBytes = v;
                    case "net_rx_packets" -> netRxPackets = v;
                    case "net_tx_packets" -> netTxPackets = v;
                    case "memory" -> memory = v;
                    default -> { } // a newer VMM's counter: ignored
                }
            }
        }
        String s = state != null && !state.isBlank() ? state : reportedState;
        return new VmSample(name, s, vcpuNs / 1e9, instret, diskReadBytes, diskWriteBytes, diskReadOps, diskWriteOps,
                netRxBytes, netTxBytes, netRxPackets, netTxPackets, Math.max(0, rss),
                memoryBytes > 0 ? memoryBytes : memory, restarts);
    }

    /**
     * The resident set of a process in bytes: {@code /proc/PID/status} VmRSS (kB × 1024). 0 when the
     * process is gone, is a zombie (no VmRSS), or pid is not positive.
     */
    public static long residentBytes(long pid) {
        if (pid <= 0) return 0;
        return residentBytes(Path.of("/proc", Long.toString(pid), "status"));
    }

    /** VmRSS of a {@code /proc/PID/status}-style file in bytes; 0 when missing. */
    static long residentBytes(Path statusFile) {
        String s = HostInventory.readPath(statusFile);
        if (s == null) return 0;
        for (String line : s.split("\n")) {
            if (!line.startsWith("VmRSS:")) continue;
            String[] w = line.substring("VmRSS:".length()).strip().split("\\s+");
            try {
                long v = Long.parseLong(w[0]);
                return w.length > 1 && w[1].equalsIgnoreCase("kB") ? v * 1024 : v;
            } catch (NumberFormatException e) {
                return 0;
            }
        }
        return 0;
    }

    /** A non-negative decimal integer, or -1. */
    private static long counter(String value) {
        if (value.isEmpty() || value.length() > 19) return -1;
        for (int i = 0; i < value.length(); i++) if (value.charAt(i) < '0' || value.charAt(i) > '9') return -1;
        try {
            return Long.parseLong(value);
        } catch (NumberFormatException e) {
            return -1; // beyond Long.MAX_VALUE
        }
    }
}
