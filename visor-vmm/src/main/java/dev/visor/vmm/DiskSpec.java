package dev.visor.vmm;

import java.nio.file.Path;
import java.util.Locale;

/**
 * One disk as {@code --disk path[,format=raw|qcow2][,readonly=on]} names it (QEMU's -drive style).
 *
 * @param path     the image file
 * @param format   "raw", "qcow2" or null to detect it from the file
 * @param readOnly the guest may not write
 */
public record DiskSpec(Path path, String format, boolean readOnly) {
    /** Parses the option's value; throws VmConfigException with a one-line reason. */
    public static DiskSpec parse(String text) throws VmConfigException {
        String[] parts = text.split(",");
        if (parts[0].isBlank()) throw new VmConfigException("--disk " + text + ": the image path comes first");
        String format = null;
        boolean ro = false;
        for (int i = 1; i < parts.length; i++) {
            String p = parts[i];
            int eq = p.indexOf('=');
            String key = eq < 0 ? p : p.substring(0, eq);
            String value = eq < 0 ? "" : p.substring(eq + 1).toLowerCase(Locale.ROOT);
            switch (key) {
                case "format" -> {
                    if (!value.equals("raw") && !value.equals("qcow2")) {
                        throw new VmConfigException("--disk " + text + ": format must be raw or qcow2, not '" + value + "'");
                    }
                    format = value;
                }
                case "readonly" -> ro = switch (value) {
                    case "on", "true", "yes", "" -> true;
                    case "off", "false", "no" -> false;
                    default -> throw new VmConfigException("--disk " + text + ": readonly must be on or off");
                };
                default -> throw new VmConfigException("--disk " + text + ": unknown option '" + key
                        + "' (known: format=raw|qcow2, readonly=on|off)");
            }
        }
        return new DiskSpec(Path.of(parts[0]), format, ro);
    }
}
