package dev.visor.net.user;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Frames from the guest on their way to the selector thread: a ring of preallocated slots, so that
 * {@link UserNetwork#send} copies a frame and returns without allocating. Any thread may offer (offers
 * are serialized); only the selector thread takes.
 */
final class FrameQueue {
    private final byte[][] slots;
    private final int[] lengths;
    private final int mask;
    /** Next slot to take; written by the consumer only. */
    private final AtomicLong head = new AtomicLong();
    /** Next slot to fill; written by producers under the monitor. */
    private final AtomicLong tail = new AtomicLong();

    FrameQueue(int capacity, int maxFrame) {
        if (Integer.bitCount(capacity) != 1) throw new IllegalArgumentException("capacity must be a power of two");
        slots = new byte[capacity][maxFrame];
        lengths = new int[capacity];
        mask = capacity - 1;
    }

    /** Copies the frame in; false if it is too long or the queue is full (the frame is dropped). */
    synchronized boolean offer(ByteBuffer frame) {
        int n = frame.remaining();
        long t = tail.get();
        if (n > slots[0].length || t - head.get() > mask) return false;
        int i = (int) t & mask;
        frame.get(frame.position(), slots[i], 0, n);
        lengths[i] = n;
        tail.set(t + 1);
        return true;
    }

    boolean isEmpty() { return head.get() == tail.get(); }

    /** The oldest frame's bytes (valid until {@link #release}); call only when not empty. */
    byte[] peek() { return slots[(int) head.get() & mask]; }

    int peekLength() { return lengths[(int) head.get() & mask]; }

    /** Frees the oldest frame's slot. */
    void release() { head.set(head.get() + 1); }
}
