package dev.visor.machine.state;

/**
 * A part of the VM whose state can leave the process: it writes a versioned record of named, typed
 * fields and can be set back from one (Firecracker's {@code persist.rs}, QEMU's VMState).
 *
 * <p>Rules for implementations: call {@link #saveState} and {@link #restoreState} only while the VM
 * is paused (no vCPU and no device worker runs). A field added later must have a default that
 * reproduces the old behaviour, so that older records still restore; a change of meaning bumps
 * {@link #stateVersion()}. A restore checks every value it takes from the record as it would a
 * guest's: a corrupt record raises {@link StateException}, never a crash.
 */
public interface Stateful {
    /** The component's id in the state tree, e.g. "hart0", "plic", "virtio3". */
    String stateId();

    /** The record version this code writes; records of a newer version are refused. */
    default int stateVersion() { return 1; }

    void saveState(StateWriter out);

    void restoreState(StateReader in) throws StateException;
}
