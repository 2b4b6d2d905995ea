package dev.visor.machine;

/** A guest-physical access fell outside guest RAM. Devices turn it into a device error, never a crash. */
public final class GuestMemoryException extends RuntimeException {
    public GuestMemoryException(long address, long length) {
        super(String.format("guest physical range 0x%x+%d is outside guest RAM", address, length), null, false, false);
    }
}
