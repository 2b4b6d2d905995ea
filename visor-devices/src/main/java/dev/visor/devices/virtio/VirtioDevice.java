package dev.visor.devices.virtio;

import dev.visor.machine.GuestMemory;

/**
 * A virtio device's own part (block, net, rng...), behind a {@link VirtioMmio} transport that
 * handles the registers, feature negotiation, status, rings' addresses and interrupts.
 *
 * <p>Threading: {@link #kick} comes from a vCPU thread and must return quickly, usually by waking
 * the device's worker. Every use of the queues happens under {@link #lock} and only while
 * {@link #running}; {@link #stop} takes the lock, so once it returns no thread of this device touches
 * guest memory (the driver may reuse it after a reset).
 */
public abstract class VirtioDevice {
    protected final GuestMemory memory;
    /** Guards the queues: held while serving them, and by start/stop. */
    protected final Object lock = new Object();
    /** True between DRIVER_OK and reset (or NEEDS_RESET); read under {@link #lock}. */
    protected boolean running;
    /** Features the driver accepted (device bits and transport bits). */
    protected long negotiated;
    private VirtioMmio transport;

    protected VirtioDevice(GuestMemory memory) { this.memory = memory; }

    /** Device ID from virtio 1.2 §5 (1 net, 2 block, 3 console, 4 rng, 5 balloon). */
    public abstract int deviceId();

    /** Short name for messages, e.g. "virtio-blk". */
    public abstract String name();

    /** Device-specific feature bits offered (the transport adds its own). */
    public abstract long features();

    public abstract int queueCount();

    public int queueMaxSize() { return 256; }

    /** Reads {@code size} bytes of the device configuration space at {@code offset}; outside it reads 0. */
    public abstract long readConfig(int offset, int size);

    /** Writes to the configuration space; most fields are read-only and ignore writes. */
    public void writeConfig(int offset, int size, long value) { }

    /** DRIVER_OK: the queues are set up; start serving them. Called with {@link #lock} held. */
    protected abstract void start(Virtqueue[] queues);

    /** The driver notified queue {@code index}. On a vCPU thread: return quickly. */
    protected abstract void kick(int index);

    /** Reset: forget in-flight requests. Called with {@link #lock} held and {@link #running} already false. */
    protected void reset() { }

    /** Releases host resources (files, sockets, threads) when the VM ends. */
    public void close() { }

    final void attach(VirtioMmio transport) { this.transport = transport; }

    final void doStart(Virtqueue[] queues, long features) {
        synchronized (lock) {
            negotiated = features;
            running = true;
            start(queues);
        }
    }

    final void doReset() {
        synchronized (lock) {
            running = false;
            reset();
        }
    }

    /** Tells the driver buffers were used on {@code q}, if it wants to know now. Call under {@link #lock}. */
    protected final void notifyUsed(Virtqueue q) {
        if (q.shouldInterrupt()) transport.raiseInterrupt(VirtioMmio.INT_USED);
    }

    /** The driver broke the protocol: stop serving and report DEVICE_NEEDS_RESET. Call under {@link #lock}. */
    protected final void failed(VirtioException e) {
        running = false;
        transport.needsReset(name() + ": " + e.getMessage());
    }

    /** The configuration space changed (e.g. disk capacity): bump the generation and interrupt. */
    protected final void configChanged() {
        if (transport != null) transport.configChanged();
    }

    protected final boolean negotiated(long feature) { return (negotiated & feature) != 0; }
}
