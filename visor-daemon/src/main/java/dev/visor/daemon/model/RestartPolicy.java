package dev.visor.daemon.model;

import java.util.Locale;

/** What the daemon does when a VM's VMM process ends without being asked to stop (as docker's and libvirt's on_crash). */
public enum RestartPolicy {
    /** Leave it stopped (crashed). */
    NEVER,
    /** Start it again when it ended with a non-zero status or was killed. */
    ON_FAILURE,
    /** Start it again whenever it ends, also after a guest poweroff; not after a stop or kill asked through the API. */
    ALWAYS;

    public String apiName() { return name().toLowerCase(Locale.ROOT).replace('_', '-'); }

    /** Parses "never", "on-failure" or "always"; throws IllegalArgumentException naming the choices. */
    public static RestartPolicy parse(String s) {
        for (RestartPolicy p : values()) if (p.apiName().equals(s)) return p;
        throw new IllegalArgumentException("must be never, on-failure or always (got '" + s + "')");
    }
}
