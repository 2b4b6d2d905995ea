package dev.visor.daemon.model;

/** Where a VM is in its life, as the daemon sees it (stored, and shown by the API in lower case). */
public enum VmState {
    /** Defined, no VMM process. */
    STOPPED,
    /** The VMM process is being started and has not answered on its control socket yet. */
    STARTING,
    RUNNING,
    PAUSED,
    /** A shutdown was asked for and the VMM process has not exited yet. */
    STOPPING,
    /** The VMM process ended without being asked to (non-zero exit, killed, lost); no restart pending. */
    CRASHED;

    public String apiName() { return name().toLowerCase(java.util.Locale.ROOT); }

    /** True when a VMM process is expected to exist. */
    public boolean active() { return this == STARTING || this == RUNNING || this == PAUSED || this == STOPPING; }
}
