package dev.visor.daemon.model;

import java.time.Instant;

/** One changing API call: who made it (token name, or "-" when unauthenticated), what, and its HTTP status. */
public record AuditEntry(long id, Instant time, String who, String method, String path, int status, String remote) {}
