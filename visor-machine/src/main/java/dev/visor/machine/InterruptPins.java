package dev.visor.machine;

/**
 * The interrupt inputs of one vCPU, as interrupt controllers drive them. Bit numbers are the
 * architecture's (on RISC-V the {@code mip} bits: 3 machine software, 9 supervisor external,
 * 11 machine external). Callable from any thread; wakes the vCPU if it waits for an interrupt.
 */
public interface InterruptPins {
    void setPending(int bit, boolean level);

    /**
     * Sets the timer compare value, in ticks of the machine's {@link Clock}. The vCPU raises its
     * timer interrupt by itself once the clock reaches it (and sleeps until then when idle).
     */
    void setTimerCompare(long ticks);
}
