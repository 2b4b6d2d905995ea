package dev.visor.daemon.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricsExporterTest {
    static final VmSample A = new VmSample("a", "running", 1.5, 123, 1000, 2000, 10, 20, 300, 400, 3, 4,
            50331648, 536870912, 0);
    static final VmSample B = new VmSample("b", "paused", 0.25, 77, 1, 2, 3, 4, 5, 6, 7, 8, 1024, 1073741824, 2);

    /** name{labels} value — a label value is quoted, with \\, \" and \n escaped; values as Go's ParseFloat takes them. */
    static final Pattern SAMPLE = Pattern.compile(
            "([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(?:[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\\\n]|\\\\[\\\\\"n])*\"(?:,(?=[a-zA-Z_]))?)*\\})? "
                    + "(-?[0-9]+(?:\\.[0-9]+)?(?:E-?[0-9]+)?|NaN|[+-]Inf)");
    static final Pattern TYPE = Pattern.compile("# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|summary|histogram|untyped)");
    static final Pattern HELP = Pattern.compile("# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (?:[^\\\\\\n]|\\\\[\\\\n])*");

    @TempDir
    Path root;
    final AtomicReference<List<VmSample>> vms = new AtomicReference<>(List.of(A, B));
    MetricsExporter exporter;

    @BeforeEach
    void setUp() throws IOException {
        HostInventoryTest.fakeHost(root);
        exporter = new MetricsExporter(vms::get, new HostInventory(root));
    }

    static List<String> lines(String text) {
        return List.of(text.split("\n"));
    }

    static void assertLine(String text, String line) {
        assertTrue(lines(text).contains(line), () -> "no line «" + line + "» in:\n" + text);
    }

    @Test
    void contentTypeIsTextFormat004() {
        assertEquals("text/plain; version=0.0.4; charset=utf-8", exporter.contentType());
    }

    @Test
    void exactSampleLinesForTwoVms() {
        String text = exporter.scrape();
        for (String line : List.of(
                "# TYPE visor_vm_instructions_total counter",
                "visor_vm_instructions_total{vm=\"a\"} 123.0",
                "visor_vm_instructions_total{vm=\"b\"} 77.0",
                "# TYPE visor_vm_vcpu_seconds_total counter",
                "visor_vm_vcpu_seconds_total{vm=\"a\"} 1.5",
                "visor_vm_vcpu_seconds_total{vm=\"b\"} 0.25",
                "visor_vm_disk_read_bytes_total{vm=\"a\"} 1000.0",
                "visor_vm_disk_written_bytes_total{vm=\"a\"} 2000.0",
                "visor_vm_disk_read_ops_total{vm=\"a\"} 10.0",
                "visor_vm_disk_write_ops_total{vm=\"a\"} 20.0",
                "visor_vm_network_receive_bytes_total{vm=\"a\"} 300.0",
                "visor_vm_network_transmit_bytes_total{vm=\"a\"} 400.0",
                "visor_vm_network_receive_packets_total{vm=\"a\"} 3.0",
                "visor_vm_network_transmit_packets_total{vm=\"a\"} 4.0",
                "visor_vm_network_transmit_packets_total{vm=\"b\"} 8.0",
                "visor_vm_restarts_total{vm=\"a\"} 0.0",
                "visor_vm_restarts_total{vm=\"b\"} 2.0",
                "# TYPE visor_vm_resident_memory_bytes gauge",
                "visor_vm_resident_memory_bytes{vm=\"a\"} 5.0331648E7",
                "visor_vm_resident_memory_bytes{vm=\"b\"} 1024.0",
                "# TYPE visor_vm_memory_bytes gauge",
                "visor_vm_memory_bytes{vm=\"a\"} 5.36870912E8",
                "visor_vm_memory_bytes{vm=\"b\"} 1.073741824E9",
                "# TYPE visor_vm_state gauge",
                "visor_vm_state{state=\"running\",vm=\"a\"} 1.0",
                "visor_vm_state{state=\"paused\",vm=\"b\"} 1.0",
                "visor_vm_up{vm=\"a\"} 1.0",
                "visor_vm_up{vm=\"b\"} 0.0",
                "# TYPE visor_vms gauge",
                "visor_vms{state=\"running\"} 1.0",
                "visor_vms{state=\"paused\"} 1.0",
                "visor_vms{state=\"stopped\"} 0.0",
                "visor_vms{state=\"crashed\"} 0.0")) {
            assertLine(text, line);
        }
    }

    @Test
    void hostLines() {
        String text = exporter.scrape();
        for (String line : List.of(
                "# TYPE visor_host_cpu_seconds_total counter",
                "visor_host_cpu_seconds_total{mode=\"busy\"} 1.71",
                "visor_host_cpu_seconds_total{mode=\"idle\"} 4.5",
                "visor_host_memory_bytes 1.6777216E7",
                "visor_host_memory_available_bytes 8388608.0",
                "visor_host_load1 0.65",
                "visor_host_load5 1.09",
                "visor_host_load15 1.42",
                "visor_host_cores 2.0",
                "visor_host_cgroup_v2 1.0",
                "# TYPE visor_host_info gauge",
                "visor_host_info{cores=\"2\",cpu_model=\"Intel(R) Xeon(R) \\\"Gold\\\" 6230 CPU @ 2.10GHz\",hostname=\"h1\"} 1",
                "# TYPE visor_host_temperature_celsius gauge",
                "visor_host_temperature_celsius{sensor=\"x86_pkg_temp\"} 41.0",
                "visor_host_temperature_celsius{sensor=\"acpitz_2\"} 30.5",
                "visor_host_temperature_celsius{sensor=\"coretemp/Package id 0\"} 45.5",
                "visor_host_temperature_celsius{sensor=\"coretemp/temp2\"} -1.5")) {
            assertLine(text, line);
        }
    }

    @Test
    void removedVmDisappearsFromTheNextScrape() {
        String first = exporter.scrape();
        assertTrue(first.contains("vm=\"b\""));
        vms.set(List.of(A));
        String second = exporter.scrape();
        assertFalse(second.contains("vm=\"b\""), second);
        assertLine(second, "visor_vm_instructions_total{vm=\"a\"} 123.0");
        assertLine(second, "visor_vms{state=\"paused\"} 0.0");
        vms.set(List.of());
        String third = exporter.scrape();
        assertFalse(third.contains("visor_vm_"), third); // no per-VM family at all, not even its HELP/TYPE
        assertLine(third, "visor_vms{state=\"running\"} 0.0");
        vms.set(List.of(B, VmSample.idle("a", "stopped", 536870912, 0)));
        String fourth = exporter.scrape();
        assertLine(fourth, "visor_vm_state{state=\"stopped\",vm=\"a\"} 1.0");
        assertFalse(fourth.contains("visor_vm_state{state=\"running\""), fourth); // the old state's series is gone
        assertLine(fourth, "visor_vm_instructions_total{vm=\"b\"} 77.0");
    }

    @Test
    void countersAreReadAtScrapeTime() {
        AtomicInteger calls = new AtomicInteger();
        MetricsExporter e = new MetricsExporter(() -> {
            int n = calls.incrementAndGet();
            return List.of(VmSample.parseStats("c", "running", "ok instret=" + n * 1000, 0, 1, 0));
        }, new HostInventory(root));
        assertLine(e.scrape(), "visor_vm_instructions_total{vm=\"c\"} 1000.0");
        assertLine(e.scrape(), "visor_vm_instructions_total{vm=\"c\"} 2000.0");
        assertEquals(2, calls.get(), "the supplier is asked once per scrape");
    }

    @Test
    void labelValuesAreEscaped() {
        vms.set(List.of(new VmSample("we\"ird\nna\\me", "run\"ning", 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0)));
        String text = exporter.scrape();
        assertLine(text, "visor_vm_instructions_total{vm=\"we\\\"ird\\nna\\\\me\"} 5.0");
        assertLine(text, "visor_vm_state{state=\"run\\\"ning\",vm=\"we\\\"ird\\nna\\\\me\"} 1.0");
        assertLine(text, "visor_vms{state=\"run\\\"ning\"} 1.0");
        assertParses(text);
    }

    @Test
    void sensorNamesAreEscaped() throws IOException {
        HostInventoryTest.write(root, "sys/class/hwmon/hwmon2/name", "odd\\chip\n");
        HostInventoryTest.write(root, "sys/class/hwmon/hwmon2/temp1_input", "20000\n");
        HostInventoryTest.write(root, "sys/class/hwmon/hwmon2/temp1_label", "say \"hi\"\n");
        String text = exporter.scrape();
        assertLine(text, "visor_host_temperature_celsius{sensor=\"odd\\\\chip/say \\\"hi\\\"\"} 20.0");
        assertParses(text);
    }

    @Test
    void outputParses() {
        assertParses(exporter.scrape());
    }

    @Test
    void outputOfTheRealHostParses() {
        MetricsExporter e = new MetricsExporter(vms::get, new HostInventory());
        String text = e.scrape();
        assertParses(text);
        assertTrue(text.contains("visor_host_memory_bytes "), text);
    }

    @Test
    void noVmsAndAnEmptyHostStillParse() {
        MetricsExporter e = new MetricsExporter(() -> null, new HostInventory(root.resolve("nothing")));
        String text = e.scrape();
        assertParses(text);
        assertLine(text, "visor_host_memory_bytes 0.0");
        assertLine(text, "visor_host_info{cores=\"0\",cpu_model=\"unknown\",hostname=\"unknown\"} 1");
        assertFalse(text.contains("visor_host_temperature_celsius"), text);
    }

    @Test
    void duplicateNamesAndNegativeCountersDoNotBreakTheScrape() {
        VmSample negative = new VmSample("a", "running", -1, -5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, -1);
        vms.set(new ArrayList<>(List.of(negative, A))); // "a" twice: the first wins
        String text = exporter.scrape();
        assertParses(text);
        assertLine(text, "visor_vm_instructions_total{vm=\"a\"} 0.0");
        assertLine(text, "visor_vm_vcpu_seconds_total{vm=\"a\"} 0.0");
        assertLine(text, "visor_vms{state=\"running\"} 1.0");
    }

    @Test
    void scrapesConcurrently() throws Exception {
        List<Thread> threads = new ArrayList<>();
        List<Throwable> errors = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int t = 0; t < 4; t++) {
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 0; i < 50; i++) assertParses(exporter.scrape());
                } catch (Throwable x) {
                    errors.add(x);
                }
            }));
        }
        for (Thread t : threads) t.join();
        assertEquals(List.of(), errors);
    }

    /**
     * Every line is a HELP, a TYPE, or a sample {@code name{labels} value}; every sample belongs to the
     * family of the TYPE line before it; no family appears twice and no series twice.
     */
    static void assertParses(String text) {
        assertTrue(text.endsWith("\n"), "ends with a newline");
        String family = null;
        Set<String> families = new HashSet<>();
        Set<String> series = new HashSet<>();
        Map<String, String> types = new HashMap<>();
        int samples = 0;
        for (String line : lines(text)) {
            if (line.startsWith("# HELP ")) {
                assertTrue(HELP.matcher(line).matches(), () -> "bad HELP line: " + line);
                continue;
            }
            if (line.startsWith("#")) {
                Matcher m = TYPE.matcher(line);
                assertTrue(m.matches(), () -> "bad comment line: " + line);
                family = m.group(1);
                assertTrue(families.add(family), "family twice: " + family);
                types.put(family, m.group(2));
                continue;
            }
            Matcher m = SAMPLE.matcher(line);
            if (!m.matches()) fail("not name{labels} value: «" + line + "»");
            assertNotNull(family, "a sample before any TYPE: " + line);
            String name = m.group(1);
            assertTrue(name.equals(family) || (types.get(family).equals("counter") && name.equals(family + "_created")),
                    "sample " + name + " in family " + family);
            if (types.get(family).equals("counter")) assertTrue(name.endsWith("_total"), "counter without _total: " + name);
            assertTrue(name.startsWith("visor_"), name);
            assertTrue(series.add(name + (m.group(2) == null ? "" : m.group(2))), "series twice: " + line);
            samples++;
        }
        assertTrue(samples > 0);
    }
}
