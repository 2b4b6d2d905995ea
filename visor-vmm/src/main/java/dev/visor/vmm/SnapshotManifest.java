package dev.visor.vmm;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A snapshot's {@code manifest}: what the VM was, in a text file a person can read. Lines of
 * {@code key=value} after a first line naming the format; backslash and newline in values are
 * escaped ({@code \\}, {@code \n}).
 *
 * <pre>
 *   visor-snapshot 1
 *   cpus=1
 *   memory=536870912
 *   kernel=/root/.cache/visor/images/default/Image      (initrd=, firmware= likewise; absent for none)
 *   append=console=ttyS0 earlycon=sbi quiet
 *   disks=1
 *   disk0.path=/vms/data.qcow2      the frozen image: nobody may write it from now on
 *   disk0.format=qcow2
 *   disk0.readonly=false
 *   nets=1
 *   net0.kind=user  net0.target=hostfwd=...  net0.mac=52:54:00:12:34:56
 *   rng=true  balloon=false  console-port=false
 * </pre>
 *
 * @param disks disks in slot order; {@code path} is the frozen image (or the read-only image itself)
 * @param nets  network cards in slot order, with the MAC the guest knows
 */
record SnapshotManifest(int cpus, long memoryBytes, Path kernel, Path initrd, Path firmware, String append,
                        List<DiskSpec> disks, List<NetSpec> nets, boolean rng, boolean balloon, boolean consolePort) {
    static final String MAGIC = "visor-snapshot";
    static final int FORMAT = 1;
    /** A manifest is a few hundred bytes; a larger file is not one. */
    static final int MAX_BYTES = 64 << 10;

    SnapshotManifest {
        disks = List.copyOf(disks);
        nets = List.copyOf(nets);
    }

    /** The manifest of a VM whose disks are (now) {@code disks}. */
    static SnapshotManifest of(VmSpec spec, List<DiskSpec> disks, List<byte[]> macs) {
        List<NetSpec> nets = new ArrayList<>();
        for (int i = 0; i < spec.devices().nets().size(); i++) {
            NetSpec n = spec.devices().nets().get(i);
            nets.add(new NetSpec(n.kind(), n.target(), i < macs.size() ? macs.get(i) : n.mac()));
        }
        return new SnapshotManifest(spec.cpus(), spec.memoryBytes(), spec.kernel(), spec.initrd(), spec.firmware(),
                spec.append(), disks, nets, spec.devices().rng(), spec.devices().balloon(), spec.devices().consolePort() != null);
    }

    String encode() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("cpus", String.valueOf(cpus));
        m.put("memory", String.valueOf(memoryBytes));
        if (kernel != null) m.put("kernel", kernel.toAbsolutePath().normalize().toString());
        if (initrd != null) m.put("initrd", initrd.toAbsolutePath().normalize().toString());
        if (firmware != null) m.put("firmware", firmware.toAbsolutePath().normalize().toString());
        if (append != null) m.put("append", append);
        m.put("disks", String.valueOf(disks.size()));
        for (int i = 0; i < disks.size(); i++) {
            DiskSpec d = disks.get(i);
            m.put("disk" + i + ".path", d.path().toAbsolutePath().normalize().toString());
            if (d.format() != null) m.put("disk" + i + ".format", d.format());
            m.put("disk" + i + ".readonly", String.valueOf(d.readOnly()));
        }
        m.put("nets", String.valueOf(nets.size()));
        for (int i = 0; i < nets.size(); i++) {
            NetSpec n = nets.get(i);
            m.put("net" + i + ".kind", n.kind().name().toLowerCase(Locale.ROOT));
            m.put("net" + i + ".target", n.target());
            if (n.mac() != null) m.put("net" + i + ".mac", HexFormat.ofDelimiter(":").formatHex(n.mac()));
        }
        m.put("rng", String.valueOf(rng));
        m.put("balloon", String.valueOf(balloon));
        m.put("console-port", String.valueOf(consolePort));
        StringBuilder s = new StringBuilder(MAGIC + " " + FORMAT + "\n");
        m.forEach((k, v) -> s.append(k).append('=').append(v.replace("\\", "\\\\").replace("\n", "\\n")).append('\n'));
        return s.toString();
    }

    /** Reads {@code file}; any problem is a one-line {@link VmConfigException} naming the file. */
    static SnapshotManifest read(Path file) throws VmConfigException {
        String text;
        try {
            if (Files.size(file) > MAX_BYTES) throw bad(file, "is larger than " + (MAX_BYTES >> 10) + " KiB: not a manifest");
            text = new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw bad(file, "is missing (not a snapshot, or an unfinished one)");
        } catch (IOException e) {
            throw bad(file, "cannot be read: " + e.getMessage());
        }
        String[] lines = text.split("\n");
        String[] first = lines[0].split(" ");
        if (first.length != 2 || !first[0].equals(MAGIC)) throw bad(file, "is not a Visor snapshot manifest");
        if (!first[1].equals(String.valueOf(FORMAT))) {
            throw bad(file, "has format " + first[1] + "; this Visor reads format " + FORMAT + " (made by another version?)");
        }
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            if (lines[i].isEmpty()) continue;
            int eq = lines[i].indexOf('=');
            if (eq <= 0) throw bad(file, "line " + (i + 1) + " is not key=value (corrupt?)");
            m.put(lines[i].substring(0, eq), unescape(lines[i].substring(eq + 1)));
        }
        Fields f = new Fields(file, m);
        int cpus = f.integer("cpus", 1, 64);
        long memory = f.number("memory");
        int diskCount = f.integer("disks", 0, 64);
        List<DiskSpec> disks = new ArrayList<>();
        for (int i = 0; i < diskCount; i++) {
            disks.add(new DiskSpec(Path.of(f.required("disk" + i + ".path")), m.get("disk" + i + ".format"), f.bool("disk" + i + ".readonly")));
        }
        int netCount = f.integer("nets", 0, 64);
        List<NetSpec> nets = new ArrayList<>();
        for (int i = 0; i < netCount; i++) {
            NetSpec.Kind kind;
            try {
                kind = NetSpec.Kind.valueOf(f.required("net" + i + ".kind").toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw bad(file, "net" + i + ".kind is not user, switch or tap");
            }
            byte[] mac = null;
            String macText = m.get("net" + i + ".mac");
            if (macText != null) {
                try {
                    mac = HexFormat.ofDelimiter(":").parseHex(macText);
                } catch (IllegalArgumentException e) {
                    mac = null;
                }
                if (mac == null || mac.length != 6) throw bad(file, "net" + i + ".mac is not a MAC address");
            }
            nets.add(new NetSpec(kind, m.getOrDefault("net" + i + ".target", ""), mac));
        }
        return new SnapshotManifest(cpus, memory, path(m.get("kernel")), path(m.get("initrd")), path(m.get("firmware")),
                m.get("append"), disks, nets, f.bool("rng"), f.bool("balloon"), f.bool("console-port"));
    }

    private static Path path(String s) { return s == null ? null : Path.of(s); }

    private static String unescape(String v) {
        StringBuilder s = new StringBuilder(v.length());
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            if (c == '\\' && i + 1 < v.length()) {
                char n = v.charAt(++i);
                s.append(n == 'n' ? '\n' : n);
            } else {
                s.append(c);
            }
        }
        return s.toString();
    }

    static VmConfigException bad(Path file, String what) {
        return new VmConfigException("snapshot manifest " + file + " " + what);
    }

    /** Typed access to the key=value pairs, each failure naming the key. */
    private record Fields(Path file, Map<String, String> m) {
        String required(String key) throws VmConfigException {
            String v = m.get(key);
            if (v == null) throw bad(file, "has no " + key + " (corrupt?)");
            return v;
        }

        long number(String key) throws VmConfigException {
            try {
                long v = Long.parseLong(required(key));
                if (v < 0) throw new NumberFormatException();
                return v;
            } catch (NumberFormatException e) {
                throw bad(file, "has a bad " + key + " (corrupt?)");
            }
        }

        int integer(String key, int min, int max) throws VmConfigException {
            long v = number(key);
            if (v < min || v > max) throw bad(file, "has " + key + "=" + v + ", out of range " + min + ".." + max);
            return (int) v;
        }

        boolean bool(String key) throws VmConfigException {
            return switch (required(key)) {
                case "true" -> true;
                case "false" -> false;
                default -> throw bad(file, "has a bad " + key + " (true or false)");
            };
        }
    }
}
