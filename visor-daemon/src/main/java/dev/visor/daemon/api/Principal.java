package dev.visor.daemon.api;

import dev.visor.daemon.model.Role;

/** Who made a request: the token's name and role. */
record Principal(String name, Role role) {}
