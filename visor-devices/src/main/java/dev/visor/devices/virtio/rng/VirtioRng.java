package dev.visor.devices.virtio.rng;

import dev.visor.devices.virtio.DescriptorChain;
import dev.visor.devices.virtio.VirtioDevice;
import dev.visor.devices.virtio.VirtioException;
import dev.visor.devices.virtio.Virtqueue;
import dev.visor.machine.GuestMemory;

import java.security.SecureRandom;

/**
 * virtio-rng (virtio 1.2 §5.4): fills the guest's buffers with bytes from the host's SecureRandom.
 * Requests are small and rare, so they are served on the vCPU thread that kicked the queue.
 */
public final class VirtioRng extends VirtioDevice {
    /** Bytes per request at most, so one greedy request cannot hold a vCPU for long. */
    private static final int MAX_REQUEST = 4096;

    private final SecureRandom random = new SecureRandom();
    private final byte[] buffer = new byte[MAX_REQUEST];
    private Virtqueue queue;
    private DescriptorChain chain;

    public VirtioRng(GuestMemory memory) { super(memory); }

    @Override public int deviceId() { return 4; }
    @Override public String name() { return "virtio-rng"; }
    @Override public long features() { return 0; }
    @Override public int queueCount() { return 1; }
    @Override public int queueMaxSize() { return 64; }
    @Override public long readConfig(int offset, int size) { return 0; }

    @Override
    protected void start(Virtqueue[] queues) {
        queue = queues[0];
        chain = queue.newChain();
    }

    @Override
    protected void kick(int index) {
        synchronized (lock) {
            if (!running) return;
            try {
                while (queue.pop(chain)) {
                    int n = (int) Math.min(MAX_REQUEST, chain.writableBytes());
                    random.nextBytes(buffer);
                    chain.write(0, buffer, 0, n);
                    queue.pushUsed(chain.head(), n);
                }
                notifyUsed(queue);
            } catch (VirtioException e) {
                failed(e);
            }
        }
    }
}
