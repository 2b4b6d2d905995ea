package dev.visor.devices.virtio;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * A device's own thread: {@link #kick} (from a vCPU thread, cheap) makes it run its body once more.
 * Kicks that arrive while the body runs are not lost: the body runs again afterwards. This keeps
 * slow work (disk I/O, packet relaying) off the vCPU that notified the queue, as QEMU's iothreads do.
 */
public final class DeviceWorker implements AutoCloseable {
    private final Runnable body;
    private final AtomicBoolean pending = new AtomicBoolean();
    private final Thread thread;
    private volatile boolean closed;

    public DeviceWorker(String name, Runnable body) {
        this.body = body;
        thread = Thread.ofPlatform().name(name).daemon().unstarted(this::loop);
        thread.start();
    }

    public void kick() {
        if (!pending.getAndSet(true)) LockSupport.unpark(thread);
    }

    private void loop() {
        while (!closed) {
            if (!pending.getAndSet(false)) {
                LockSupport.park(this);
                continue;
            }
            body.run();
        }
    }

    @Override
    public void close() {
        closed = true;
        LockSupport.unpark(thread);
    }
}
