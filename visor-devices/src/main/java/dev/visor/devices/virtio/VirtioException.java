package dev.visor.devices.virtio;

/**
 * The driver broke the virtio protocol (a descriptor index out of range, a loop, a buffer outside
 * guest RAM...). The device stops using its queues and reports DEVICE_NEEDS_RESET; nothing else in
 * the VMM is affected. Only thrown on the error path, never on a well-formed request.
 */
public final class VirtioException extends Exception {
    public VirtioException(String message) { super(message, null, false, false); }
}
