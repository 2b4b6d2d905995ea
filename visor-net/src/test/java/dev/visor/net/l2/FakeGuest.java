package dev.visor.net.l2;

import dev.visor.net.GuestPort;

import java.nio.ByteBuffer;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** A guest NIC for tests: keeps a copy of every frame it receives, always has room. */
final class FakeGuest implements GuestPort {
    private final LinkedBlockingQueue<byte[]> frames = new LinkedBlockingQueue<>();

    @Override
    public boolean receive(ByteBuffer frame) {
        byte[] b = new byte[frame.remaining()];
        frame.get(frame.position(), b);
        frames.add(b);
        return true;
    }

    @Override
    public boolean canReceive() {
        return true;
    }

    /** The next frame, or null after {@code millis} without one. */
    byte[] next(long millis) throws InterruptedException {
        return frames.poll(millis, TimeUnit.MILLISECONDS);
    }

    /** Frames received and not yet taken. */
    int pending() {
        return frames.size();
    }
}
