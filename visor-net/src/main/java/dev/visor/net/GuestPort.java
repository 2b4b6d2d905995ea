package dev.visor.net;

import java.nio.ByteBuffer;

/** The guest's side of a {@link NetBackend}: the virtio-net device. */
public interface GuestPort {
    /**
     * Delivers one frame to the guest (from {@code frame.position()} to {@code frame.limit()}; the
     * data is copied before this returns). Thread-safe. Returns false when the frame was dropped
     * because the guest has no receive buffers and the device's small queue is full; like a real
     * NIC, the backend may retry later or let the protocol (TCP) recover.
     */
    boolean receive(ByteBuffer frame);

    /** True when {@link #receive} would accept a frame now; lets a backend hold data back instead of dropping it. */
    boolean canReceive();
}
