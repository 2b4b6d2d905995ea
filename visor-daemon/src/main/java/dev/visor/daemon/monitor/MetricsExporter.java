package dev.visor.daemon.monitor;

import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.InfoSnapshot;
import io.prometheus.metrics.model.snapshots.InfoSnapshot.InfoDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Unit;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * The daemon's Prometheus metrics ({@code GET /metrics}): one collector that, at each scrape, asks the
 * VM supplier once and reads the host once, and turns what it gets into metric families. Nothing is
 * kept between scrapes, so a VM that is no longer supplied is no longer exported.
 *
 * <p>Per VM (label {@code vm}): {@code visor_vm_state{vm,state}} (1, the state as a label),
 * {@code visor_vm_up} (1 when running, else 0), the counters {@code visor_vm_vcpu_seconds_total},
 * {@code visor_vm_instructions_total}, {@code visor_vm_disk_read_bytes_total},
 * {@code visor_vm_disk_written_bytes_total}, {@code visor_vm_disk_read_ops_total},
 * {@code visor_vm_disk_write_ops_total}, {@code visor_vm_network_receive_bytes_total},
 * {@code visor_vm_network_transmit_bytes_total}, {@code visor_vm_network_receive_packets_total},
 * {@code visor_vm_network_transmit_packets_total}, {@code visor_vm_restarts_total}, and the gauges
 * {@code visor_vm_resident_memory_bytes}, {@code visor_vm_memory_bytes}.
 *
 * <p>Host: {@code visor_host_cpu_seconds_total{mode="busy"|"idle"}}, {@code visor_host_memory_bytes},
 * {@code visor_host_memory_available_bytes}, {@code visor_host_load1}, {@code visor_host_load5},
 * {@code visor_host_load15}, {@code visor_host_temperature_celsius{sensor}},
 * {@code visor_host_info{hostname,cpu_model,cores}} (1), {@code visor_host_cores},
 * {@code visor_host_cgroup_v2} (0/1), and {@code visor_vms{state}}: how many VMs are in each state
 * (every API state is always present, 0 when none).
 *
 * <p>Families with no samples (e.g. per-VM ones when there are no VMs, temperatures on a host without
 * sensors) are left out of the output entirely. When two samples have the same VM name only the first
 * is exported. Thread-safe: scrapes may run concurrently.
 */
public final class MetricsExporter {
    /** The VM states of the API, always present in {@code visor_vms}. */
    public static final List<String> STATES = List.of("stopped", "starting", "running", "paused", "stopping", "crashed");

    private final Supplier<? extends List<VmSample>> vms;
    private final HostInventory host;
    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();

    /**
     * @param vms  called once per scrape, for the VMs to export (null is taken as none; what it throws
     *             fails the scrape)
     * @param host read once per scrape
     */
    public MetricsExporter(Supplier<? extends List<VmSample>> vms, HostInventory host) {
        this.vms = Objects.requireNonNull(vms, "vms");
        this.host = Objects.requireNonNull(host, "host");
        registry.register((MultiCollector) this::collect);
    }

    /**
     * The registry holding this exporter's collector; others (e.g. JVM metrics) may be registered in it
     * too and then appear in {@link #scrape()}.
     */
    public PrometheusRegistry registry() {
        return registry;
    }

    /** The Prometheus text exposition format (version 0.0.4) of everything in {@link #registry()}, now. */
    public String scrape() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(8192);
        try {
            writer.write(out, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a ByteArrayOutputStream does not fail
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** The Content-Type of {@link #scrape()}'s text: {@code text/plain; version=0.0.4; charset=utf-8}. */
    public String contentType() {
        return writer.getContentType();
    }

    // ---------------------------------------------------------------------------------------------

    private MetricSnapshots collect() {
        List<MetricSnapshot> out = new ArrayList<>();
        collectVms(out);
        collectHost(out);
        return new MetricSnapshots(out);
    }

    private void collectVms(List<MetricSnapshot> out) {
        List<VmSample> supplied = vms.get();
        Map<String, VmSample> byName = new LinkedHashMap<>();
        if (supplied != null) for (VmSample s : supplied) if (s != null) byName.putIfAbsent(s.name(), s);
        List<VmSample> samples = List.copyOf(byName.values());

        Map<String, Integer> counts = new LinkedHashMap<>();
        for (String st : STATES) counts.put(st, 0);
        for (VmSample s : samples) counts.merge(s.state(), 1, Integer::sum);
        GaugeSnapshot.Builder perState = GaugeSnapshot.builder().name("visor_vms")
                .help("Number of VMs defined on this host, by state");
        counts.forEach((st, n) -> perState.dataPoint(gauge(Labels.of("state", st), n)));
        out.add(perState.build());

        if (samples.isEmpty()) return;
        GaugeSnapshot.Builder state = GaugeSnapshot.builder().name("visor_vm_state")
                .help("The VM's state, as the label state (always 1)");
        for (VmSample s : samples) state.dataPoint(gauge(Labels.of("vm", s.name(), "state", s.state()), 1));
        out.add(state.build());
        out.add(vmGauge(samples, "visor_vm_up", "1 when the VM is running, else 0", null,
                s -> s.state().equals("running") ? 1 : 0));

        out.add(vmCounter(samples, "visor_vm_vcpu_seconds_total", "Host CPU time used by the VM's vCPU threads",
                Unit.SECONDS, VmSample::vcpuSeconds));
        out.add(vmCounter(samples, "visor_vm_instructions_total", "Guest instructions retired, all vCPUs",
                null, s -> s.instructions()));
        out.add(vmCounter(samples, "visor_vm_disk_read_bytes_total", "Bytes read by the guest from its disks",
                Unit.BYTES, s -> s.diskReadBytes()));
        out.add(vmCounter(samples, "visor_vm_disk_written_bytes_total", "Bytes written by the guest to its disks",
                Unit.BYTES, s -> s.diskWriteBytes()));
        out.add(vmCounter(samples, "visor_vm_disk_read_ops_total", "Disk read requests completed",
                null, s -> s.diskReadOps()));
        out.add(vmCounter(samples, "visor_vm_disk_write_ops_total", "Disk write requests completed",
                null, s -> s.diskWriteOps()));
        out.add(vmCounter(samples, "visor_vm_network_receive_bytes_total", "Bytes received by the guest's NICs",
                Unit.BYTES, s -> s.netRxBytes()));
        out.add(vmCounter(samples, "visor_vm_network_transmit_bytes_total", "Bytes sent by the guest's NICs",
                Unit.BYTES, s -> s.netTxBytes()));
        out.add(vmCounter(samples, "visor_vm_network_receive_packets_total", "Frames received by the guest's NICs",
                null, s -> s.netRxPackets()));
        out.add(vmCounter(samples, "visor_vm_network_transmit_packets_total", "Frames sent by the guest's NICs",
                null, s -> s.netTxPackets()));
        out.add(vmCounter(samples, "visor_vm_restarts_total", "Restarts of the VM by its restart policy",
                null, s -> s.restarts()));
        out.add(vmGauge(samples, "visor_vm_resident_memory_bytes", "Resident memory of the VM's VMM process",
                Unit.BYTES, s -> s.residentBytes()));
        out.add(vmGauge(samples, "visor_vm_memory_bytes", "Memory configured for the VM",
                Unit.BYTES, s -> s.memoryBytes()));
    }

    private void collectHost(List<MetricSnapshot> out) {
        HostInfo h = host.info();
        CpuTimes cpu = host.cpuTimes();
        out.add(CounterSnapshot.builder().name("visor_host_cpu_seconds_total").unit(Unit.SECONDS)
                .help("Host CPU time since boot, all CPUs, busy (user, nice, system, irq, softirq, steal) or idle (idle, iowait)")
                .dataPoint(counter(Labels.of("mode", "busy"), cpu.busySeconds()))
                .dataPoint(counter(Labels.of("mode", "idle"), cpu.idleSeconds()))
                .build());
        out.add(hostGauge("visor_host_memory_bytes", "Host memory (MemTotal)", Unit.BYTES, h.memoryBytes()));
        out.add(hostGauge("visor_host_memory_available_bytes", "Host memory available for new work (MemAvailable)",
                Unit.BYTES, h.memoryAvailableBytes()));
        out.add(hostGauge("visor_host_load1", "Host load average over 1 minute", null, h.loadAverage().get(0)));
        out.add(hostGauge("visor_host_load5", "Host load average over 5 minutes", null, h.loadAverage().get(1)));
        out.add(hostGauge("visor_host_load15", "Host load average over 15 minutes", null, h.loadAverage().get(2)));
        out.add(hostGauge("visor_host_cores", "Logical CPUs of the host", null, h.cores()));
        out.add(hostGauge("visor_host_cgroup_v2", "1 when cgroup v2 with the cpu and memory controllers is usable",
                null, h.cgroupV2() ? 1 : 0));
        out.add(InfoSnapshot.builder().name("visor_host").help("Facts about the host (always 1)")
                .dataPoint(InfoDataPointSnapshot.builder().labels(Labels.of(
                        "hostname", h.hostname(), "cpu_model", h.cpuModel(), "cores", Integer.toString(h.cores()))).build())
                .build());
        Set<String> sensors = new LinkedHashSet<>();
        GaugeSnapshot.Builder temps = GaugeSnapshot.builder().name("visor_host_temperature_celsius").unit(Unit.CELSIUS)
                .help("Host temperature sensors");
        for (Temperature t : h.temperatures()) {
            if (sensors.add(t.sensor())) temps.dataPoint(gauge(Labels.of("sensor", t.sensor()), t.celsius()));
        }
        if (!sensors.isEmpty()) out.add(temps.build());
    }

    private static MetricSnapshot vmCounter(List<VmSample> samples, String name, String help, Unit unit,
                                            ToDoubleFunction<VmSample> value) {
        CounterSnapshot.Builder b = CounterSnapshot.builder().name(name).help(help);
        if (unit != null) b.unit(unit);
        for (VmSample s : samples) b.dataPoint(counter(vmLabels(s), value.applyAsDouble(s)));
        return b.build();
    }

    private static MetricSnapshot vmGauge(List<VmSample> samples, String name, String help, Unit unit,
                                          ToDoubleFunction<VmSample> value) {
        GaugeSnapshot.Builder b = GaugeSnapshot.builder().name(name).help(help);
        if (unit != null) b.unit(unit);
        for (VmSample s : samples) b.dataPoint(gauge(vmLabels(s), value.applyAsDouble(s)));
        return b.build();
    }

    private static MetricSnapshot hostGauge(String name, String help, Unit unit, double value) {
        GaugeSnapshot.Builder b = GaugeSnapshot.builder().name(name).help(help);
        if (unit != null) b.unit(unit);
        return b.dataPoint(gauge(Labels.EMPTY, value)).build();
    }

    private static Labels vmLabels(VmSample s) {
        return Labels.of("vm", s.name());
    }

    /** A counter point; a negative value (which the library refuses, and counters never have) becomes 0. */
    private static CounterDataPointSnapshot counter(Labels labels, double value) {
        return CounterDataPointSnapshot.builder().labels(labels).value(value < 0 ? 0 : value).build();
    }

    private static GaugeDataPointSnapshot gauge(Labels labels, double value) {
        return GaugeDataPointSnapshot.builder().labels(labels).value(value).build();
    }
}
