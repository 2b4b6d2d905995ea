package dev.visor.net;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Where a virtual NIC's frames go: user-mode NAT, an L2 switch shared by VMs, or a host tap device.
 * Frames are Ethernet II frames (destination MAC onward, no FCS, no virtio header).
 *
 * <pre>
 *   backend.start(port);      // once; the backend may now call port.receive from its own threads
 *   backend.send(frame);      // a frame the guest transmitted
 *   backend.close();          // stops its threads and releases sockets/devices
 * </pre>
 */
public interface NetBackend extends Closeable {
    /** Starts the backend; frames for the guest go to {@code guest}. Called once. */
    void start(GuestPort guest) throws IOException;

    /**
     * A frame the guest sent, between {@code frame.position()} and {@code frame.limit()}. The buffer
     * is only valid during the call (it may be a view of guest RAM), so keep a copy if needed. Called
     * from the device's thread: must not block for long. Malformed frames are dropped silently (a
     * guest may send garbage).
     */
    void send(ByteBuffer frame);

    /**
     * Called by the device when the guest posted new receive buffers after {@link GuestPort#canReceive}
     * had returned false, so a backend that held data back can go on (from the device's thread; must
     * not block).
     */
    default void guestReceiveReady() { }

    @Override
    void close() throws IOException;
}
