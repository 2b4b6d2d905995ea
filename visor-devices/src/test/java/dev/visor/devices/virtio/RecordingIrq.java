package dev.visor.devices.virtio;

import dev.visor.machine.IrqLine;

import java.util.concurrent.atomic.AtomicInteger;

/** An interrupt line that remembers its level and counts rising edges. */
public final class RecordingIrq implements IrqLine {
    private volatile boolean level;
    private final AtomicInteger rises = new AtomicInteger();

    @Override
    public synchronized void set(boolean high) {
        if (high && !level) rises.incrementAndGet();
        level = high;
    }

    public boolean level() { return level; }

    /** Rising edges since the line was created. */
    public int rises() { return rises.get(); }
}
