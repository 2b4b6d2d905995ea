package dev.visor.machine;

/** A level-triggered interrupt line from a device to an interrupt controller. */
@FunctionalInterface
public interface IrqLine {
    void set(boolean level);

    IrqLine NONE = level -> { };
}
