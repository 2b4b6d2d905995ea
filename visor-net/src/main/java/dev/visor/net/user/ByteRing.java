package dev.visor.net.user;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * A fixed-size byte FIFO in a direct buffer, filled from and drained to socket channels without
 * intermediate copies. The TCP relay keeps one per direction per connection: guest data not yet
 * written to the host socket, and host data the guest has not acknowledged yet (read by offset for
 * retransmission). Not thread-safe.
 *
 * <pre>
 *   |....[head ......... data ......... tail)....|      offsets wrap modulo capacity
 * </pre>
 */
final class ByteRing {
    private final ByteBuffer buffer;
    /** A second view for channel I/O, so the main buffer's position and limit never move. */
    private final ByteBuffer view;
    private final int capacity;
    private long head, tail;

    ByteRing(int capacity) {
        this.capacity = capacity;
        buffer = ByteBuffer.allocateDirect(capacity);
        view = buffer.duplicate();
    }

    int capacity() { return capacity; }

    int size() { return (int) (tail - head); }

    int free() { return capacity - size(); }

    void clear() { head = tail = 0; }

    /** Appends {@code len <= free()} bytes. */
    void put(byte[] src, int off, int len) {
        int at = (int) (tail % capacity);
        int first = Math.min(len, capacity - at);
        buffer.put(at, src, off, first);
        if (first < len) buffer.put(0, src, off + first, len - first);
        tail += len;
    }

    /** Copies {@code len} bytes starting {@code offset} bytes after the head into {@code dst}. */
    void copyOut(int offset, byte[] dst, int dstOff, int len) {
        int at = (int) ((head + offset) % capacity);
        int first = Math.min(len, capacity - at);
        buffer.get(at, dst, dstOff, first);
        if (first < len) buffer.get(0, dst, dstOff + first, len - first);
    }

    void discard(int n) { head += n; }

    /** Reads once from {@code ch} into free space; returns the channel's result (-1 at its end). */
    int readFrom(ReadableByteChannel ch) throws IOException {
        int at = (int) (tail % capacity);
        int n = Math.min(free(), capacity - at);
        if (n == 0) return 0;
        view.clear();
        view.limit(at + n).position(at);
        int r = ch.read(view);
        if (r > 0) tail += r;
        return r;
    }

    /** Writes once from the head to {@code ch}; returns the bytes written. */
    int writeTo(WritableByteChannel ch) throws IOException {
        int at = (int) (head % capacity);
        int n = Math.min(size(), capacity - at);
        if (n == 0) return 0;
        view.clear();
        view.limit(at + n).position(at);
        int w = ch.write(view);
        head += w;
        return w;
    }
}
