package dev.visor.devices.virtio.net;

import dev.visor.net.GuestPort;
import dev.visor.net.NetBackend;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/** A backend that keeps the frames the guest sent and lets the test play the network. */
final class FakeNetBackend implements NetBackend {
    volatile GuestPort port;
    final List<byte[]> sent = new CopyOnWriteArrayList<>();
    final AtomicInteger receiveReady = new AtomicInteger();

    @Override public void start(GuestPort guest) { port = guest; }

    @Override
    public void send(ByteBuffer frame) {
        byte[] b = new byte[frame.remaining()];
        frame.get(b);
        sent.add(b);
    }

    @Override public void guestReceiveReady() { receiveReady.incrementAndGet(); }
    @Override public void close() { }
}
