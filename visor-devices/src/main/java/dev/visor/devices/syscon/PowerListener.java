package dev.visor.devices.syscon;

/**
 * Receives the guest's power requests. Called on the requesting vCPU's thread: implementations must
 * not block waiting for that vCPU to stop (they should request the stop and return).
 */
public interface PowerListener {
    /** The guest asked to power off; {@code code} is the exit status it asked for (0 for a clean poweroff). */
    void powerOff(int code);

    /** The guest asked for a reboot. */
    void reset();
}
