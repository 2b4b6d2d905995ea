package dev.visor.daemon.model;

import java.time.Instant;

/** A bearer token as listed: its secret is never kept, only its hash. */
public record TokenInfo(String name, Role role, Instant created) {}
