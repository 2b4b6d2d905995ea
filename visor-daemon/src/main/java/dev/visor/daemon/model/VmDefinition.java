package dev.visor.daemon.model;

import java.util.List;

/**
 * What a VM is, as defined through the API and kept in the store: its shape and devices and how
 * the daemon treats it. Checked by {@code DefinitionValidator} before it is stored.
 *
 * @param memoryBytes guest RAM, a multiple of 4 KiB
 * @param disks       images in the store, the first is /dev/vda
 * @param nets        `visor run --net` values ("user", "user,hostfwd=...", "switch:PATH", "none")
 * @param append      kernel command line, or null for the default
 * @param snapshot    "VM/SNAPSHOT": the VM starts as a clone of that snapshot (restore) instead of booting; null to boot
 */
public record VmDefinition(String name, int cpus, long memoryBytes, List<DiskRef> disks, List<String> nets,
                           boolean rng, boolean balloon, String append, boolean autostart, RestartPolicy restart,
                           String snapshot) {
    public VmDefinition {
        disks = List.copyOf(disks);
        nets = List.copyOf(nets);
    }

    public VmDefinition withAutostart(boolean a) {
        return new VmDefinition(name, cpus, memoryBytes, disks, nets, rng, balloon, append, a, restart, snapshot);
    }

    public VmDefinition withRestart(RestartPolicy r) {
        return new VmDefinition(name, cpus, memoryBytes, disks, nets, rng, balloon, append, autostart, r, snapshot);
    }

    public VmDefinition withDisks(List<DiskRef> d) {
        return new VmDefinition(name, cpus, memoryBytes, d, nets, rng, balloon, append, autostart, restart, snapshot);
    }
}
