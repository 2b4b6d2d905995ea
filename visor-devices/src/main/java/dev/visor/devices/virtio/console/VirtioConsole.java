package dev.visor.devices.virtio.console;

import dev.visor.machine.state.StateException;
import dev.visor.machine.state.StateReader;
import dev.visor.machine.state.StateWriter;
import dev.visor.devices.virtio.DescriptorChain;
import dev.visor.devices.virtio.DeviceWorker;
import dev.visor.devices.virtio.VirtioDevice;
import dev.visor.devices.virtio.VirtioException;
import dev.visor.devices.virtio.Virtqueue;
import dev.visor.machine.GuestMemory;

import java.io.IOException;
import java.io.OutputStream;

/**
 * virtio-console (virtio 1.2 §5.3) with a single port and no multiport control queue: receiveq 0
 * carries host input to the guest, transmitq 1 the guest's output. Linux shows it as /dev/hvc0.
 *
 * <p>Guest output goes to an {@link OutputStream}, written on the device's worker after the data
 * was copied out of guest RAM, so a slow terminal never holds the device's lock (a reset does not
 * wait for it). Host input ({@link #input}) waits in a bounded buffer until the guest posts
 * receive buffers; it survives a device reset, so keystrokes typed during a reboot are not lost.
 *
 * <pre>
 *   host: input(bytes) --> [ pending, 64 KiB ] --worker--> receiveq buffers --> guest /dev/hvc0
 *   guest /dev/hvc0 --> transmitq buffers --worker--> copy --> out.write(), out.flush()
 * </pre>
 */
public final class VirtioConsole extends VirtioDevice {
    static final int RX = 0, TX = 1;
    /** Host input held while the guest has no receive buffers; {@link #input} accepts no more. */
    static final int INPUT_CAPACITY = 64 * 1024;
    /**
     * Bytes of one transmit request passed on at most; the rest is dropped. Linux writes at most
     * 32 KiB per request, so only a misbehaving driver loses output.
     */
    static final int MAX_OUTPUT = 64 * 1024;

    private final OutputStream out;
    private final DeviceWorker worker;

    // ---- host input: a ring buffer, under lock ----
    private final byte[] input = new byte[INPUT_CAPACITY];
    private int inputHead, inputCount;

    // ---- device state, under lock ----
    private Virtqueue rx, tx;
    private DescriptorChain rxChain, txChain;

    // ---- worker only ----
    private final byte[] output = new byte[MAX_OUTPUT];

    private volatile long inputBytes, outputBytes, droppedOutputBytes;

    /** @param out where the guest's output goes; flushed after each burst and never closed by the device */
    public VirtioConsole(GuestMemory memory, OutputStream out) {
        super(memory);
        this.out = out;
        worker = new DeviceWorker("virtio-console", this::serve);
    }

    @Override public int deviceId() { return 3; }
    @Override public String name() { return "virtio-console"; }
    @Override public long features() { return 0; } // no F_SIZE, F_MULTIPORT, F_EMERG_WRITE
    @Override public int queueCount() { return 2; }
    @Override public int queueMaxSize() { return 128; }
    /** cols, rows, max_nr_ports, emerg_wr: none of their features is offered, all read as zero. */
    @Override public long readConfig(int offset, int size) { return 0; }

    /**
     * Queues host input for the guest; returns how many of the {@code length} bytes were accepted
     * (fewer when the input buffer is full: try the rest again later). Any thread.
     */
    public int input(byte[] data, int offset, int length) {
        java.util.Objects.checkFromIndexSize(offset, length, data.length);
        int n;
        synchronized (lock) {
            n = Math.min(length, INPUT_CAPACITY - inputCount);
            for (int i = 0; i < n; i++) input[(inputHead + inputCount + i) % INPUT_CAPACITY] = data[offset + i];
            inputCount += n;
        }
        if (n > 0) worker.kick();
        return n;
    }

    /** Bytes of host input not yet delivered to the guest. */
    public int pendingInput() {
        synchronized (lock) { return inputCount; }
    }

    @Override
    protected void start(Virtqueue[] queues) {
        rx = queues[RX];
        tx = queues[TX];
        rxChain = rx.newChain();
        txChain = tx.newChain();
        worker.kick(); // buffers posted before DRIVER_OK (whose kicks the transport ignored)
    }

    @Override
    protected void kick(int index) { worker.kick(); }

    /** Delivers pending input, then passes each transmit request on, one at a time. */
    private void serve() {
        while (true) {
            int n;
            synchronized (lock) {
                if (!running) return;
                try {
                    deliverInput();
                    if (!tx.pop(txChain)) {
                        notifyUsed(tx);
                        return;
                    }
                    long length = txChain.readableBytes();
                    n = (int) Math.min(length, MAX_OUTPUT);
                    txChain.read(0, output, 0, n);
                    droppedOutputBytes += length - n;
                    tx.pushUsed(txChain.head(), 0);
                    notifyUsed(tx); // Linux's hvc spins until its buffer comes back: do not make it wait
                } catch (VirtioException e) {
                    failed(e);
                    return;
                }
            }
            write(n);
        }
    }

    private void write(int n) {
        if (n == 0) return;
        try {
            out.write(output, 0, n);
            out.flush();
            outputBytes += n;
        } catch (IOException e) {
            droppedOutputBytes += n; // the host's terminal went away; the guest must not notice
        }
    }

    /** Fills the guest's receive buffers from the pending input. Under {@link #lock}. */
    private void deliverInput() throws VirtioException {
        boolean any = false;
        while (inputCount > 0 && rx.pop(rxChain)) {
            int n = (int) Math.min(inputCount, rxChain.writableBytes());
            int first = Math.min(n, INPUT_CAPACITY - inputHead); // the ring may wrap inside this request
            rxChain.write(0, input, inputHead, first);
            rxChain.write(first, input, 0, n - first);
            inputHead = (inputHead + n) % INPUT_CAPACITY;
            inputCount -= n;
            inputBytes += n;
            rx.pushUsed(rxChain.head(), n);
            any = true;
        }
        if (any) notifyUsed(rx);
    }

    public long inputBytes() { return inputBytes; }
    public long outputBytes() { return outputBytes; }
    public long droppedOutputBytes() { return droppedOutputBytes; }

    @Override
    public void close() {
        worker.close();
        synchronized (lock) { running = false; }
    }

    // ---- state: host input not yet delivered to the guest ----

    @Override
    public void saveState(StateWriter out) {
        synchronized (lock) {
            byte[] b = new byte[inputCount];
            for (int i = 0; i < inputCount; i++) b[i] = input[(inputHead + i) % INPUT_CAPACITY];
            out.putBytes("input", b);
        }
    }

    @Override
    public void restoreState(StateReader in) throws StateException {
        byte[] b = in.getBytes("input", new byte[0]);
        if (b.length > INPUT_CAPACITY) throw in.invalid(b.length + " bytes of pending input, at most " + INPUT_CAPACITY);
        synchronized (lock) {
            System.arraycopy(b, 0, input, 0, b.length);
            inputHead = 0;
            inputCount = b.length;
        }
    }
}
