package dev.visor.daemon.monitor;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the host's facts from Linux's {@code /proc} and {@code /sys}. Every call reads the files afresh
 * (they are small, and in memory); nothing throws: what is missing or unreadable falls back to
 * {@code "unknown"}, 0 or empty. The root can be moved (e.g. to a fake tree in tests, or {@code /host}
 * in a container with the host's /proc and /sys mounted there). Thread-safe (no state but the root).
 */
public final class HostInventory {
    /** What a text field is when the host does not say. */
    public static final String UNKNOWN = "unknown";

    /** /proc/cpuinfo keys naming the CPU, best first: x86 (and some ARM), old 32-bit ARM, MIPS, RISC-V, POWER. */
    private static final List<String> CPU_MODEL_KEYS = List.of("model name", "Processor", "cpu model", "uarch", "isa", "cpu");
    private static final Pattern HWMON_TEMP_INPUT = Pattern.compile("temp(\\d+)_input");
    private static final Pattern FIRST_NUMBER = Pattern.compile("^(\\D*)(\\d{1,9})(.*)$");

    private final Path root;

    /** The real host: root {@code /}. */
    public HostInventory() {
        this(Path.of("/"));
    }

    /** A tree with {@code proc/} and {@code sys/} (and optionally {@code etc/hostname}) under {@code root}. */
    public HostInventory(Path root) {
        this.root = Objects.requireNonNull(root, "root");
    }

    public Path root() {
        return root;
    }

    /** All the facts at once. */
    public HostInfo info() {
        String cpuinfo = read("proc/cpuinfo");
        return new HostInfo(hostname(), cpuModel(cpuinfo), cores(cpuinfo), memoryBytes(), memoryAvailableBytes(),
                loadAverage(), temperatures(), cgroupV2());
    }

    /** {@code /proc/sys/kernel/hostname}, else {@code /etc/hostname}, else "unknown". */
    public String hostname() {
        for (String file : List.of("proc/sys/kernel/hostname", "etc/hostname")) {
            String s = read(file);
            if (s != null && !s.isBlank()) return s.strip();
        }
        return UNKNOWN;
    }

    /** The CPU's name from /proc/cpuinfo ("model name", else "uarch"/"isa" and the like), else "unknown". */
    public String cpuModel() {
        return cpuModel(read("proc/cpuinfo"));
    }

    /** Logical CPUs online: {@code /sys/devices/system/cpu/online}, else the "processor" entries of /proc/cpuinfo, else 0. */
    public int cores() {
        return cores(read("proc/cpuinfo"));
    }

    /** /proc/meminfo MemTotal in bytes, or 0. */
    public long memoryBytes() {
        Long v = meminfo().get("MemTotal");
        return v == null ? 0 : v;
    }

    /**
     * /proc/meminfo MemAvailable in bytes; on kernels before 3.14 (no MemAvailable) the estimate
     * MemFree + Buffers + Cached; 0 when unknown.
     */
    public long memoryAvailableBytes() {
        Map<String, Long> m = meminfo();
        Long v = m.get("MemAvailable");
        if (v != null) return v;
        if (!m.containsKey("MemFree")) return 0;
        return m.get("MemFree") + m.getOrDefault("Buffers", 0L) + m.getOrDefault("Cached", 0L);
    }

    /** The 1, 5 and 15 minute load averages from /proc/loadavg; three zeros when unknown. */
    public List<Double> loadAverage() {
        String s = read("proc/loadavg");
        if (s != null) {
            String[] w = s.strip().split("\\s+");
            if (w.length >= 3) {
                try {
                    return List.of(Double.parseDouble(w[0]), Double.parseDouble(w[1]), Double.parseDouble(w[2]));
                } catch (NumberFormatException ignored) {
                    // fall through
                }
            }
        }
        return List.of(0.0, 0.0, 0.0);
    }

    /**
     * The readable temperature sensors: thermal zones ({@code /sys/class/thermal/thermal_zone*}: {@code type},
     * {@code temp}) then hwmon chips ({@code /sys/class/hwmon/hwmon*}: {@code name}, {@code temp*_input} and
     * {@code temp*_label}), in numeric order. Values in millidegrees become degrees; sensors whose value cannot
     * be read (many answer EIO or ENODATA) are left out. Sensor names are made unique with a suffix
     * ({@code acpitz}, {@code acpitz_2}).
     */
    public List<Temperature> temperatures() {
        List<Temperature> out = new ArrayList<>();
        Set<String> used = new HashSet<>();
        for (Path zone : list("sys/class/thermal", "thermal_zone")) {
            Double c = millidegrees(zone.resolve("temp"));
            if (c == null) continue;
            String type = readPath(zone.resolve("type"));
            String sensor = type == null || type.isBlank() ? zone.getFileName().toString() : type.strip();
            out.add(new Temperature(unique(sensor, used), c));
        }
        for (Path chip : list("sys/class/hwmon", "hwmon")) {
            String name = readPath(chip.resolve("name"));
            String chipName = name == null || name.isBlank() ? chip.getFileName().toString() : name.strip();
            for (Path input : hwmonInputs(chip)) {
                Double c = millidegrees(input);
                if (c == null) continue;
                String file = input.getFileName().toString();
                String n = file.substring(0, file.length() - "_input".length());
                String label = readPath(chip.resolve(n + "_label"));
                String sensor = chipName + "/" + (label == null || label.isBlank() ? n : label.strip());
                out.add(new Temperature(unique(sensor, used), c));
            }
        }
        return out;
    }

    /** True when {@code /sys/fs/cgroup/cgroup.controllers} exists and lists both cpu and memory. */
    public boolean cgroupV2() {
        String s = read("sys/fs/cgroup/cgroup.controllers");
        if (s == null) return false;
        List<String> controllers = List.of(s.strip().split("\\s+"));
        return controllers.contains("cpu") && controllers.contains("memory");
    }

    /** The cumulative busy and total jiffies of the {@code cpu} line of /proc/stat; {@link CpuTimes#ZERO} when unknown. */
    public CpuTimes cpuTimes() {
        String s = read("proc/stat");
        if (s == null) return CpuTimes.ZERO;
        for (String line : s.split("\n")) {
            String[] w = line.strip().split("\\s+");
            if (!w[0].equals("cpu")) continue;
            long[] f = new long[8]; // user nice system idle iowait irq softirq steal (guest, guest_nice are inside user, nice)
            try {
                for (int i = 0; i < f.length && i + 1 < w.length; i++) f[i] = Long.parseLong(w[i + 1]);
            } catch (NumberFormatException e) {
                return CpuTimes.ZERO;
            }
            long busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
            return new CpuTimes(busy, busy + f[3] + f[4]);
        }
        return CpuTimes.ZERO;
    }

    // ---------------------------------------------------------------------------------------------

    private static String cpuModel(String cpuinfo) {
        if (cpuinfo == null) return UNKNOWN;
        Map<String, String> first = new LinkedHashMap<>();
        for (String line : cpuinfo.split("\n")) {
            int colon = line.indexOf(':');
            if (colon < 0) continue;
            String value = line.substring(colon + 1).strip();
            if (!value.isEmpty()) first.putIfAbsent(line.substring(0, colon).strip(), value);
        }
        for (String key : CPU_MODEL_KEYS) {
            String v = first.get(key);
            if (v != null) return v;
        }
        return UNKNOWN;
    }

    private int cores(String cpuinfo) {
        String online = read("sys/devices/system/cpu/online");
        if (online != null) {
            int n = countCpuList(online.strip());
            if (n > 0) return n;
        }
        if (cpuinfo == null) return 0;
        int n = 0;
        for (String line : cpuinfo.split("\n")) {
            int colon = line.indexOf(':');
            if (colon >= 0 && line.substring(0, colon).strip().equals("processor")) n++;
        }
        return n;
    }

    /** Counts a kernel CPU list such as {@code 0-3,6,8-9}; 0 when it does not parse. */
    static int countCpuList(String list) {
        if (list.isEmpty()) return 0;
        int n = 0;
        try {
            for (String part : list.split(",")) {
                int dash = part.indexOf('-');
                if (dash < 0) {
                    Integer.parseInt(part.strip());
                    n++;
                } else {
                    int lo = Integer.parseInt(part.substring(0, dash).strip());
                    int hi = Integer.parseInt(part.substring(dash + 1).strip());
                    if (hi < lo) return 0;
                    n += hi - lo + 1;
                }
            }
        } catch (NumberFormatException e) {
            return 0;
        }
        return n;
    }

    /** /proc/meminfo as bytes ("kB" values times 1024; values without a unit as they are). */
    private Map<String, Long> meminfo() {
        Map<String, Long> m = new LinkedHashMap<>();
        String s = read("proc/meminfo");
        if (s == null) return m;
        for (String line : s.split("\n")) {
            int colon = line.indexOf(':');
            if (colon < 0) continue;
            String[] w = line.substring(colon + 1).strip().split("\\s+");
            try {
                long v = Long.parseLong(w[0]);
                if (w.length > 1 && w[1].equalsIgnoreCase("kB")) v *= 1024;
                m.putIfAbsent(line.substring(0, colon).strip(), v);
            } catch (NumberFormatException ignored) {
                // not a number: skip the line
            }
        }
        return m;
    }

    private static Double millidegrees(Path file) {
        String s = readPath(file);
        if (s == null) return null;
        try {
            return Long.parseLong(s.strip()) / 1000.0;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static String unique(String name, Set<String> used) {
        String n = name;
        for (int i = 2; !used.add(n); i++) n = name + "_" + i;
        return n;
    }

    /** The temp*_input files of a hwmon chip, by number. */
    private static List<Path> hwmonInputs(Path chip) {
        List<Path> inputs = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(chip)) {
            for (Path p : ds) if (HWMON_TEMP_INPUT.matcher(p.getFileName().toString()).matches()) inputs.add(p);
        } catch (IOException | RuntimeException e) {
            return List.of();
        }
        inputs.sort(NATURAL);
        return inputs;
    }

    /** The entries of a directory under the root whose names start with {@code prefix}, in numeric order. */
    private List<Path> list(String dir, String prefix) {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(root.resolve(dir))) {
            for (Path p : ds) if (p.getFileName().toString().startsWith(prefix)) out.add(p);
        } catch (IOException | RuntimeException e) {
            return List.of();
        }
        out.sort(NATURAL);
        return out;
    }

    /** By name, with the first number in it compared as a number (thermal_zone2 before thermal_zone10, temp2_input before temp10_input). */
    private static final Comparator<Path> NATURAL = (a, b) -> {
        String x = a.getFileName().toString(), y = b.getFileName().toString();
        Matcher mx = FIRST_NUMBER.matcher(x), my = FIRST_NUMBER.matcher(y);
        if (mx.matches() && my.matches() && mx.group(1).equals(my.group(1))) {
            int c = Integer.compare(Integer.parseInt(mx.group(2)), Integer.parseInt(my.group(2)));
            if (c != 0) return c;
        }
        return x.compareTo(y);
    };

    private String read(String relative) {
        return readPath(root.resolve(relative));
    }

    /** A file's text, or null when it cannot be read (missing, no permission, EIO from a sensor, a directory...). */
    static String readPath(Path file) {
        try {
            return new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
