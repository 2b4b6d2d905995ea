package dev.visor.devices.virtio;

import dev.visor.machine.GuestMemory;
import dev.visor.machine.state.StateException;
import dev.visor.machine.state.StateReader;
import dev.visor.machine.state.StateWriter;
import dev.visor.machine.state.Stateful;

/**
 * A virtio device's own part (block, net, rng...), behind a {@link VirtioMmio} transport that
 * handles the registers, feature negotiation, status, rings' addresses and interrupts.
 *
 * <p>Threading: {@link #kick} comes from a vCPU thread and must return quickly, usually by waking
 * the device's worker. Every use of the queues happens under {@link #lock} and only while
 * {@link #running}; {@link #stop} takes the lock, so once it returns no thread of this device touches
 * guest memory (the driver may reuse it after a reset).
 *
 * <p>Pause: {@link #quiesce} takes the lock (so it waits for a request being served, e.g. a disk
 * read in progress, to finish) and clears {@link #running}; from then on no thread of this device
 * touches guest memory or the queues, and its state may be saved. {@link #unquiesce} sets it running
 * again and looks at every queue once, for buffers the driver added meanwhile. Work that arrives
 * while quiesced from the host side is each device's business (a frame for virtio-net is dropped, as
 * on a real link; console input waits in its buffer).
 *
 * <p>State: the device's own part of a saved VM (its queues' positions belong to the transport).
 * The default saves nothing; devices with state of their own override {@link #saveState} and
 * {@link #restoreState}.
 */
public abstract class VirtioDevice implements Stateful {
    protected final GuestMemory memory;
    /** Guards the queues: held while serving them, and by start/stop. */
    protected final Object lock = new Object();
    /** True between DRIVER_OK and reset (or NEEDS_RESET); read under {@link #lock}. */
    protected boolean running;
    /** Features the driver accepted (device bits and transport bits). */
    protected long negotiated;
    /** True while paused by {@link #quiesce} (running was true and will be again); under {@link #lock}. */
    private boolean quiesced;
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
            quiesced = false;
            start(queues);
        }
    }

    final void doReset() {
        synchronized (lock) {
            running = false;
            quiesced = false;
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

    // ---- pause ----

    /** Stops serving the queues; returns once no thread of this device is using them. Any thread. */
    public final void quiesce() {
        synchronized (lock) {
            if (running) {
                running = false;
                quiesced = true;
            }
        }
    }

    /** Undoes {@link #quiesce}: serves the queues again, starting with what arrived meanwhile. Any thread. */
    public final void unquiesce() {
        boolean was;
        synchronized (lock) {
            was = quiesced;
            if (was) {
                quiesced = false;
                running = true;
            }
        }
        if (was) {
            for (int i = 0; i < queueCount(); i++) kick(i);
            resumed();
        }
    }

    /** After {@link #unquiesce}, outside the lock: e.g. tell a backend that frames are welcome again. */
    protected void resumed() { }

    /**
     * A restored transport found the driver had set DRIVER_OK: take the queues as {@link #start} does,
     * but stay quiesced until the VM resumes. Called before {@link #restoreState}.
     */
    final void restoreStarted(Virtqueue[] queues, long features) {
        synchronized (lock) {
            negotiated = features;
            running = false;
            quiesced = true;
            start(queues);
        }
    }

    // ---- state ----

    @Override public String stateId() { return name(); }

    @Override public void saveState(StateWriter out) { }

    @Override public void restoreState(StateReader in) throws StateException { }
}
