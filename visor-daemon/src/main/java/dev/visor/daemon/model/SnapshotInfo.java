package dev.visor.daemon.model;

import java.time.Instant;

/** A snapshot of a VM (state + RAM + disk overlays) in the daemon's snapshot directory. */
public record SnapshotInfo(String vm, String name, String path, long ramBytes, Instant created) {}
