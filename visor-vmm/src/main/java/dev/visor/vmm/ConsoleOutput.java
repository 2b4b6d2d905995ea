package dev.visor.vmm;

import java.io.IOException;
import java.io.OutputStream;

/**
 * Buffers the guest console's output and flushes it a few milliseconds after the guest stops writing,
 * so a burst of kernel messages costs a handful of host writes rather than one per byte.
 */
final class ConsoleOutput extends OutputStream {
    /** How long written bytes may wait before they reach the host: short enough to feel immediate. */
    private static final long FLUSH_DELAY_MS = 5;

    private final OutputStream out;
    private final byte[] buf = new byte[8192];
    private int count;
    private final Thread flusher;
    private volatile boolean closed;

    ConsoleOutput(OutputStream out) {
        this.out = out;
        flusher = Thread.ofPlatform().daemon().name("console-flush").start(this::flushLoop);
    }

    @Override
    public synchronized void write(int b) throws IOException {
        if (count == buf.length) drain();
        if (count == 0) notify(); // wakes the flusher, which sleeps while there is nothing to flush
        buf[count++] = (byte) b;
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) throws IOException {
        for (int i = 0; i < len; i++) write(b[off + i]);
    }

    private void drain() throws IOException {
        if (count > 0) {
            out.write(buf, 0, count);
            count = 0;
        }
    }

    @Override
    public synchronized void flush() throws IOException {
        drain();
        out.flush();
    }

    /**
     * Waits (without waking) until output is pending, gives the guest {@link #FLUSH_DELAY_MS} to
     * write more, then flushes. An idle guest costs this thread nothing: a loop that slept 5 ms at a
     * time woke 200 times a second per VM, which was the largest part of an idle VMM's CPU use.
     */
    private void flushLoop() {
        while (!closed) {
            try {
                synchronized (this) {
                    while (count == 0 && !closed) wait();
                }
                Thread.sleep(FLUSH_DELAY_MS);
                synchronized (this) {
                    if (count > 0) flush();
                }
            } catch (InterruptedException e) {
                return;
            } catch (IOException e) {
                // the terminal went away (e.g. a closed pipe): keep the guest running, drop output
                synchronized (this) { count = 0; }
            }
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        flusher.interrupt();
        flush();
    }
}
