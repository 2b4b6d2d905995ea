package dev.visor.daemon.monitor;

import java.util.List;
import java.util.Objects;

/**
 * The host's facts, named as in the API's Host object (which adds {@code version}, {@code vms} and
 * {@code stateDir}, known to the daemon rather than to the host). Made by {@link HostInventory#info()};
 * what could not be read is {@code "unknown"}, 0, or empty.
 *
 * @param hostname             the kernel's host name ({@code /proc/sys/kernel/hostname}), or "unknown"
 * @param cpuModel             {@code /proc/cpuinfo}'s "model name" (or "uarch"/"isa"/... on other
 *                             architectures), or "unknown"
 * @param cores                logical CPUs online, or 0
 * @param memoryBytes          MemTotal, or 0
 * @param memoryAvailableBytes MemAvailable, or 0
 * @param loadAverage          the 1, 5 and 15 minute load averages (always three values; zeros when unknown)
 * @param temperatures         the readable sensors, possibly none
 * @param cgroupV2             whether the unified cgroup hierarchy is mounted with the cpu and memory controllers
 */
public record HostInfo(String hostname, String cpuModel, int cores, long memoryBytes, long memoryAvailableBytes,
                       List<Double> loadAverage, List<Temperature> temperatures, boolean cgroupV2) {
    public HostInfo {
        Objects.requireNonNull(hostname, "hostname");
        Objects.requireNonNull(cpuModel, "cpuModel");
        loadAverage = List.copyOf(loadAverage);
        if (loadAverage.size() != 3) throw new IllegalArgumentException("loadAverage needs 3 values: " + loadAverage);
        temperatures = List.copyOf(temperatures);
    }
}
