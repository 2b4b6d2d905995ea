package dev.visor.devices.virtio.net;

import dev.visor.machine.state.StateException;
import dev.visor.machine.state.StateReader;
import dev.visor.machine.state.StateWriter;
import dev.visor.devices.virtio.DescriptorChain;
import dev.visor.devices.virtio.DeviceWorker;
import dev.visor.devices.virtio.VirtioDevice;
import dev.visor.devices.virtio.VirtioException;
import dev.visor.devices.virtio.Virtqueue;
import dev.visor.machine.GuestMemory;
import dev.visor.net.GuestPort;
import dev.visor.net.NetBackend;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * virtio-net (virtio 1.2 §5.1) with one receive and one transmit queue, joined to a {@link NetBackend}
 * (user-mode NAT, switch or tap). No offloads are offered, so every frame is a plain Ethernet frame
 * of at most 1514 bytes behind the 12-byte virtio-net header.
 *
 * <p>Transmit: the vCPU's kick wakes the device's worker, which hands each frame to the backend.
 * Receive: backend threads call {@link GuestPort#receive}; the frame goes straight into the guest's
 * next receive buffer, or into a small queue of {@value #PENDING} frames while the guest has none.
 */
public final class VirtioNet extends VirtioDevice implements GuestPort {
    static final long F_MAC = 1L << 5, F_STATUS = 1L << 16;
    static final int HEADER = 12;
    static final int MAX_FRAME = 1514;
    private static final int PENDING = 64;
    private static final int RX = 0, TX = 1;

    private final byte[] mac;
    private final NetBackend backend;
    private final DeviceWorker worker;
    private Virtqueue rx, tx;
    private DescriptorChain rxChain, txChain;
    private final byte[] header = new byte[HEADER];
    private final byte[] txFrame = new byte[MAX_FRAME + 4];
    private final ByteBuffer txBuffer = ByteBuffer.wrap(txFrame);
    private final byte[] rxFrame = new byte[MAX_FRAME];
    private final byte[][] pending = new byte[PENDING][MAX_FRAME];
    private final int[] pendingLength = new int[PENDING];
    private int pendingHead, pendingCount;
    private boolean backendWaiting;
    /** Counters for monitoring (frames and their bytes without the virtio header): one writer at a time, read from any thread. */
    private volatile long rxFrames, txFrames, rxBytes, txBytes, rxDropped;

    public VirtioNet(GuestMemory memory, byte[] mac, NetBackend backend) throws IOException {
        super(memory);
        if (mac.length != 6) throw new IllegalArgumentException("a MAC address has 6 bytes");
        this.mac = mac.clone();
        this.backend = backend;
        header[10] = 1; // num_buffers: every frame fits one buffer (no mergeable buffers)
        worker = new DeviceWorker("virtio-net " + macString(mac), this::transmit);
        backend.start(this);
    }

    public static String macString(byte[] mac) {
        StringBuilder s = new StringBuilder();
        for (byte b : mac) s.append(s.isEmpty() ? "" : ":").append(String.format("%02x", b & 0xff));
        return s.toString();
    }

    @Override public int deviceId() { return 1; }
    @Override public String name() { return "virtio-net " + macString(mac); }
    @Override public long features() { return F_MAC | F_STATUS; }
    @Override public int queueCount() { return 2; }

    @Override
    public long readConfig(int offset, int size) {
        long v = 0;
        for (int i = size - 1; i >= 0; i--) {
            int at = offset + i;
            int b = at < 6 ? mac[at] & 0xff : at == 6 ? 1 /* VIRTIO_NET_S_LINK_UP */ : 0;
            v = (v << 8) | b;
        }
        return v;
    }

    @Override
    protected void start(Virtqueue[] queues) {
        rx = queues[RX];
        tx = queues[TX];
        rxChain = rx.newChain();
        txChain = tx.newChain();
    }

    @Override
    protected void reset() { pendingCount = 0; }

    @Override
    protected void kick(int index) {
        if (index == TX) {
            worker.kick();
        } else {
            boolean wake;
            synchronized (lock) {
                if (!running) return;
                drainPending();
                wake = backendWaiting && pendingCount < PENDING;
                if (wake) backendWaiting = false;
            }
            if (wake) backend.guestReceiveReady();
        }
    }

    /**
     * Sends the guest's frames. The backend is called outside {@link #lock}, so a backend thread that
     * delivers a frame to the guest while we send can never deadlock with us.
     */
    private void transmit() {
        while (true) {
            int len;
            synchronized (lock) {
                if (!running) return;
                try {
                    if (!tx.pop(txChain)) {
                        notifyUsed(tx);
                        return;
                    }
                    long l = txChain.readableBytes() - HEADER;
                    len = l > 0 && l <= txFrame.length ? (int) l : 0;
                    if (len > 0) txChain.read(HEADER, txFrame, 0, len);
                    tx.pushUsed(txChain.head(), 0);
                } catch (VirtioException e) {
                    failed(e);
                    return;
                }
            }
            if (len > 0) {
                txBuffer.clear().limit(len);
                backend.send(txBuffer);
                txFrames++;
                txBytes += len;
            }
        }
    }

    @Override
    public boolean receive(ByteBuffer frame) {
        int len = frame.remaining();
        if (len > MAX_FRAME || len < 14) return false;
        synchronized (lock) {
            if (!running) return false;
            try {
                drainPending();
                if (pendingCount == 0 && rx.pop(rxChain)) {
                    frame.get(frame.position(), rxFrame, 0, len);
                    deliver(rxChain, rxFrame, len);
                    notifyUsed(rx);
                    return true;
                }
            } catch (VirtioException e) {
                failed(e);
                return false;
            }
            if (pendingCount == PENDING) {
                rxDropped++;
                backendWaiting = true;
                return false;
            }
            int slot = (pendingHead + pendingCount) % PENDING;
            frame.get(frame.position(), pending[slot], 0, len);
            pendingLength[slot] = len;
            pendingCount++;
            return true;
        }
    }

    @Override
    public boolean canReceive() {
        synchronized (lock) {
            if (!running) return false;
            if (pendingCount < PENDING) return true;
            backendWaiting = true;
            return false;
        }
    }

    /** Moves queued frames into receive buffers the guest has posted since. Under {@link #lock}. */
    private void drainPending() {
        if (pendingCount == 0) return;
        try {
            boolean any = false;
            while (pendingCount > 0 && rx.pop(rxChain)) {
                deliver(rxChain, pending[pendingHead], pendingLength[pendingHead]);
                pendingHead = (pendingHead + 1) % PENDING;
                pendingCount--;
                any = true;
            }
            if (any) notifyUsed(rx);
        } catch (VirtioException e) {
            failed(e);
        }
    }

    private void deliver(DescriptorChain c, byte[] frame, int len) throws VirtioException {
        if (c.writableBytes() < HEADER + len) {
            rxDropped++; // the guest posted a buffer too small for a full frame: its bug, the frame is lost
            rx.pushUsed(c.head(), 0);
            return;
        }
        c.write(0, header, 0, HEADER);
        c.write(HEADER, frame, 0, len);
        rx.pushUsed(c.head(), HEADER + len);
        rxFrames++;
        rxBytes += len;
    }

    public long rxFrames() { return rxFrames; }
    public long txFrames() { return txFrames; }
    public long rxBytes() { return rxBytes; }
    public long txBytes() { return txBytes; }
    public long rxDropped() { return rxDropped; }

    @Override
    public void close() {
        worker.close();
        synchronized (lock) { running = false; }
        try {
            backend.close();
        } catch (IOException ignored) {
            // the VM is ending; nothing to do about a backend that fails to close
        }
    }

    // ---- state ----
    // The MAC, and the frames received while the guest had no buffer posted. Frames arriving while
    // the VM is paused are dropped (receive returns false), as a real link drops them.

    @Override
    protected void resumed() { backend.guestReceiveReady(); }

    @Override
    public void saveState(StateWriter out) {
        synchronized (lock) {
            out.putBytes("mac", mac);
            int[] lengths = new int[pendingCount];
            int total = 0;
            for (int i = 0; i < pendingCount; i++) total += lengths[i] = pendingLength[(pendingHead + i) % PENDING];
            byte[] frames = new byte[total];
            for (int i = 0, at = 0; i < pendingCount; at += lengths[i], i++) {
                System.arraycopy(pending[(pendingHead + i) % PENDING], 0, frames, at, lengths[i]);
            }
            out.putInts("pendingLengths", lengths);
            out.putBytes("pendingFrames", frames);
        }
    }

    @Override
    public void restoreState(StateReader in) throws StateException {
        // A different MAC is a clone restored with a new address: the configuration space shows the
        // new one, but Linux's virtio_net read the MAC once, at probe, and keeps sending and filtering
        // with the saved one until its driver probes again (reboot, or an unbind/bind of the device).
        byte[] m = in.getBytes("mac", mac);
        if (m.length != 6) throw in.invalid("a MAC of " + m.length + " bytes");
        int[] lengths = in.getInts("pendingLengths", new int[0]);
        byte[] frames = in.getBytes("pendingFrames", new byte[0]);
        if (lengths.length > PENDING) throw in.invalid(lengths.length + " pending frames, at most " + PENDING);
        long total = 0;
        for (int l : lengths) {
            if (l < 14 || l > MAX_FRAME) throw in.invalid("a pending frame of " + l + " bytes");
            total += l;
        }
        if (total != frames.length) throw in.invalid("pending frame lengths do not add up");
        synchronized (lock) {
            pendingHead = 0;
            pendingCount = lengths.length;
            for (int i = 0, at = 0; i < lengths.length; at += lengths[i], i++) {
                System.arraycopy(frames, at, pending[i], 0, lengths[i]);
                pendingLength[i] = lengths[i];
            }
        }
    }
}
