package dev.visor.daemon.events;

import java.time.Instant;

/** Something that happened to a VM: a state change, a definition change, a snapshot, a migration. */
public record Event(Instant time, String vm, String type, String state, String detail) {}
