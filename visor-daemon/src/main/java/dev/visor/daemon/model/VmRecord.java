package dev.visor.daemon.model;

import java.time.Instant;

/**
 * One VM as the store keeps it: its definition and what the daemon knows of its process.
 *
 * @param id           never reused; names the VM's run directory and its security label
 * @param label        the VM's security label (as sVirt's): its disk images carry it
 * @param pid          the VMM process while one is expected (state active), else 0
 * @param pidStart     that process's start time, to tell it from a later process with the same pid; null when none
 * @param exitCode     how the last VMM process ended (null: never ran, or unknown)
 * @param lastError    why the last start or run failed, one line; null when it did not
 * @param restarts     restarts made by the restart policy since the last start through the API
 */
public record VmRecord(long id, VmDefinition definition, String label, VmState state, long pid, Instant pidStart,
                       Integer exitCode, String lastError, int restarts, Instant created, Instant startedAt) {
    public String name() { return definition.name(); }
}
