package dev.visor.daemon.model;

import java.util.Locale;

/**
 * What a token may do. Each role includes the ones below it: a viewer reads (VMs, consoles,
 * events, metrics); an operator also drives VMs (start, stop, pause, snapshot, resize, type into
 * consoles); an admin also defines and deletes VMs and images, migrates, and manages tokens.
 */
public enum Role {
    VIEWER, OPERATOR, ADMIN;

    public boolean includes(Role other) { return ordinal() >= other.ordinal(); }

    public String apiName() { return name().toLowerCase(Locale.ROOT); }

    public static Role parse(String s) {
        for (Role r : values()) if (r.apiName().equals(s)) return r;
        throw new IllegalArgumentException("must be admin, operator or viewer (got '" + s + "')");
    }
}
