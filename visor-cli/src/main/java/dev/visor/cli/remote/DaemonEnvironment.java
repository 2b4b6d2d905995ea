package dev.visor.cli.remote;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * What the daemon commands take from the process: environment variables ({@code VISOR_DAEMON},
 * {@code VISOR_TOKEN}, {@code VISOR_STATE_DIR}), the home directory and whether this is root. Tests
 * give their own.
 */
public record DaemonEnvironment(Map<String, String> variables, Path home, boolean root) {
    public static final String SYSTEM_STATE_DIR = "/var/lib/visor";

    public DaemonEnvironment {
        variables = Map.copyOf(variables);
    }

    public static DaemonEnvironment system() {
        return new DaemonEnvironment(System.getenv(), Path.of(System.getProperty("user.home")), isRoot());
    }

    /** The variable's value, or null when it is unset or blank. */
    public String get(String name) {
        String v = variables.get(name);
        return v == null || v.isBlank() ? null : v.strip();
    }

    /**
     * The daemon's state directory as the daemon picks it: $VISOR_STATE_DIR, else /var/lib/visor for
     * root, else ~/.local/share/visor.
     */
    public Path stateDir() {
        String dir = get("VISOR_STATE_DIR");
        if (dir != null) return Path.of(dir);
        return root ? Path.of(SYSTEM_STATE_DIR) : home.resolve(".local/share/visor");
    }

    private static boolean isRoot() {
        try {
            return ((Number) Files.getAttribute(Path.of("/proc/self"), "unix:uid")).intValue() == 0;
        } catch (Exception e) {
            return "root".equals(System.getProperty("user.name"));
        }
    }
}
