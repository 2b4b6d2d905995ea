package dev.visor.daemon.model;

/** A VM's disk: an image file in the daemon's image store, by its name there (never a path). */
public record DiskRef(String image, boolean readonly) {}
