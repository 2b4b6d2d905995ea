package dev.visor.devices.virtio;

import dev.visor.machine.GuestMemory;

import java.util.function.BooleanSupplier;

/**
 * A virtio driver for tests: it works a {@link VirtioMmio} only through its registers and guest
 * RAM, in the order Linux's virtio_mmio and virtio_ring do (reset, ACKNOWLEDGE, DRIVER, features,
 * FEATURES_OK read back, queues, DRIVER_OK; descriptors, available ring, notify; used ring).
 *
 * <p>It owns one area of guest RAM: 16 KiB of rings per queue (8 queues at most), then a data area
 * handed out by a bump allocator that wraps around. Descriptors are taken round-robin, so a test
 * keeps fewer than a queue's size of them in flight. Raw accessors ({@link #desc}, {@link #publish},
 * {@link #setAvailIdx}) let fuzz tests write anything a malicious guest could.
 *
 * <pre>
 *   area: | q0 desc..avail..used | q1 ... | ... q7 | data (bump allocated) ... |
 *          16 KiB each                                 128 KiB onwards
 * </pre>
 */
public final class FakeDriver {
    public static final int MAGIC = 0x000, VERSION = 0x004, DEVICE_ID = 0x008, VENDOR_ID = 0x00c,
            DEVICE_FEATURES = 0x010, DEVICE_FEATURES_SEL = 0x014, DRIVER_FEATURES = 0x020,
            DRIVER_FEATURES_SEL = 0x024, QUEUE_SEL = 0x030, QUEUE_NUM_MAX = 0x034, QUEUE_NUM = 0x038,
            QUEUE_READY = 0x044, QUEUE_NOTIFY = 0x050, INTERRUPT_STATUS = 0x060, INTERRUPT_ACK = 0x064,
            STATUS = 0x070, QUEUE_DESC_LOW = 0x080, QUEUE_DESC_HIGH = 0x084, QUEUE_AVAIL_LOW = 0x090,
            QUEUE_AVAIL_HIGH = 0x094, QUEUE_USED_LOW = 0x0a0, QUEUE_USED_HIGH = 0x0a4,
            CONFIG_GENERATION = 0x0fc, CONFIG = 0x100;
    public static final int ACKNOWLEDGE = 1, DRIVER = 2, DRIVER_OK = 4, FEATURES_OK = 8, NEEDS_RESET = 64;
    public static final int F_NEXT = 1, F_WRITE = 2, F_INDIRECT = 4;
    public static final int INT_USED = 1, INT_CONFIG = 2;
    public static final long VERSION_1 = VirtioFeatures.VERSION_1, INDIRECT = VirtioFeatures.RING_INDIRECT_DESC,
            EVENT_IDX = VirtioFeatures.RING_EVENT_IDX;
    private static final int MAX_QUEUES = 8, RING_AREA = 16 * 1024;
    public static final long TIMEOUT_NANOS = 5_000_000_000L;

    /** One guest buffer of a request: device-readable ({@link #out}) or device-writable ({@link #in}). */
    public record Buf(long addr, int len, boolean writable) {
        public static Buf out(long addr, int len) { return new Buf(addr, len, false); }
        public static Buf in(long addr, int len) { return new Buf(addr, len, true); }
    }

    /** One used-ring element. */
    public record Used(int id, int len) {}

    public final GuestMemory memory;
    public final VirtioMmio mmio;
    public final RecordingIrq irq;
    private final long area, dataBase, dataEnd;
    private long dataNext;
    private final int[] size = new int[MAX_QUEUES], nextDesc = new int[MAX_QUEUES],
            availIdx = new int[MAX_QUEUES], lastUsed = new int[MAX_QUEUES];

    public FakeDriver(GuestMemory memory, VirtioMmio mmio, RecordingIrq irq, long area, long areaSize) {
        this.memory = memory;
        this.mmio = mmio;
        this.irq = irq;
        this.area = area;
        dataBase = area + (long) MAX_QUEUES * RING_AREA;
        dataEnd = area + areaSize;
        dataNext = dataBase;
    }

    // ---- registers ----

    public int read(int offset) { return (int) mmio.read(offset, 4); }
    public void write(int offset, int value) { mmio.write(offset, 4, value & 0xffff_ffffL); }
    public long config(int offset, int size) { return mmio.read(CONFIG + offset, size); }
    public void writeConfig(int offset, int size, long value) { mmio.write(CONFIG + offset, size, value); }
    public int status() { return read(STATUS); }
    public boolean needsReset() { return (status() & NEEDS_RESET) != 0; }

    /** Reads and acknowledges the interrupt status, as the driver's interrupt handler does. */
    public int acknowledge() {
        int s = read(INTERRUPT_STATUS);
        write(INTERRUPT_ACK, s);
        return s;
    }

    // ---- initialisation (virtio 1.2 §3.1.1) ----

    public long deviceFeatures() {
        write(DEVICE_FEATURES_SEL, 1);
        long high = read(DEVICE_FEATURES) & 0xffff_ffffL;
        write(DEVICE_FEATURES_SEL, 0);
        return high << 32 | (read(DEVICE_FEATURES) & 0xffff_ffffL);
    }

    /** Resets the device and the driver's view of its queues. */
    public void reset() {
        write(STATUS, 0);
        if (read(STATUS) != 0) throw new AssertionError("device did not reset");
        java.util.Arrays.fill(nextDesc, 0);
        java.util.Arrays.fill(availIdx, 0);
        java.util.Arrays.fill(lastUsed, 0);
    }

    /** Reset, ACKNOWLEDGE, DRIVER, write {@code features}, FEATURES_OK; true when the device kept FEATURES_OK. */
    public boolean negotiate(long features) {
        reset();
        write(STATUS, ACKNOWLEDGE);
        write(STATUS, ACKNOWLEDGE | DRIVER);
        deviceFeatures();
        write(DRIVER_FEATURES_SEL, 1);
        write(DRIVER_FEATURES, (int) (features >>> 32));
        write(DRIVER_FEATURES_SEL, 0);
        write(DRIVER_FEATURES, (int) features);
        write(STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK);
        return (read(STATUS) & FEATURES_OK) != 0;
    }

    /** Sets queue {@code q} up with {@code n} entries in this driver's ring area. */
    public void setupQueue(int q, int n) {
        setupQueue(q, n, ringAddress(q), ringAddress(q) + 16L * n, align(ringAddress(q) + 16L * n + 6 + 2L * n, 4));
    }

    /** Sets queue {@code q} up at the given ring addresses (which a fuzz test may choose badly). */
    public void setupQueue(int q, int n, long desc, long avail, long used) {
        write(QUEUE_SEL, q);
        if (read(QUEUE_READY) != 0) throw new AssertionError("queue " + q + " already live");
        if (memory.contains(ringAddress(q), RING_AREA)) memory.write(ringAddress(q), new byte[RING_AREA], 0, RING_AREA);
        write(QUEUE_NUM, n);
        write(QUEUE_DESC_LOW, (int) desc);
        write(QUEUE_DESC_HIGH, (int) (desc >>> 32));
        write(QUEUE_AVAIL_LOW, (int) avail);
        write(QUEUE_AVAIL_HIGH, (int) (avail >>> 32));
        write(QUEUE_USED_LOW, (int) used);
        write(QUEUE_USED_HIGH, (int) (used >>> 32));
        write(QUEUE_READY, 1);
        size[q] = n;
        nextDesc[q] = availIdx[q] = lastUsed[q] = 0;
    }

    public void driverOk() { write(STATUS, status() | DRIVER_OK); }

    /** negotiate + set up {@code queues.length} queues of the given sizes + DRIVER_OK. */
    public void start(long features, int... queueSizes) {
        if (!negotiate(features)) throw new AssertionError("device refused features 0x" + Long.toHexString(features));
        for (int q = 0; q < queueSizes.length; q++) setupQueue(q, queueSizes[q]);
        driverOk();
        if ((status() & DRIVER_OK) == 0 || needsReset()) throw new AssertionError("device did not start: " + mmio.lastError());
    }

    public long ringAddress(int q) { return area + (long) q * RING_AREA; }
    public long descTable(int q) { return ringAddress(q); }
    public long availRing(int q) { return ringAddress(q) + 16L * size[q]; }
    public long usedRing(int q) { return align(availRing(q) + 6 + 2L * size[q], 4); }
    public int queueSize(int q) { return size[q]; }
    private static long align(long a, int n) { return (a + n - 1) & -n; }

    // ---- data area ----

    /** {@code n} bytes of the data area (16-byte aligned), zeroed. */
    public long alloc(int n) {
        long a = align(dataNext, 16);
        if (a + n > dataEnd) a = dataBase;
        if (a + n > dataEnd) throw new IllegalArgumentException("data area too small for " + n);
        dataNext = a + n;
        memory.write(a, new byte[n], 0, n);
        return a;
    }

    public long put(byte[] data) {
        long a = alloc(data.length);
        memory.write(a, data, 0, data.length);
        return a;
    }

    public byte[] get(long address, int n) {
        byte[] b = new byte[n];
        memory.read(address, b, 0, n);
        return b;
    }

    // ---- requests ----

    /** Writes descriptor {@code i} of {@code table} raw. */
    public void desc(long table, int i, long addr, int len, int flags, int next) {
        long d = table + 16L * i;
        memory.writeLong(d, addr);
        memory.writeInt(d + 8, len);
        memory.writeShort(d + 12, (short) flags);
        memory.writeShort(d + 14, (short) next);
    }

    /** Puts {@code bufs} in free descriptors as one chain and makes it available; returns the head. */
    public int submit(int q, Buf... bufs) {
        int head = nextDesc[q];
        for (int i = 0; i < bufs.length; i++) {
            int idx = (head + i) % size[q];
            boolean last = i == bufs.length - 1;
            desc(descTable(q), idx, bufs[i].addr(), bufs[i].len(), (bufs[i].writable() ? F_WRITE : 0) | (last ? 0 : F_NEXT),
                    last ? 0 : (idx + 1) % size[q]);
        }
        nextDesc[q] = (head + bufs.length) % size[q];
        publish(q, head);
        return head;
    }

    /** Puts {@code bufs} in an indirect table referenced by one descriptor; returns the head. */
    public int submitIndirect(int q, Buf... bufs) {
        long table = alloc(16 * bufs.length);
        for (int i = 0; i < bufs.length; i++) {
            boolean last = i == bufs.length - 1;
            desc(table, i, bufs[i].addr(), bufs[i].len(), (bufs[i].writable() ? F_WRITE : 0) | (last ? 0 : F_NEXT), last ? 0 : i + 1);
        }
        int head = nextDesc[q];
        desc(descTable(q), head, table, 16 * bufs.length, F_INDIRECT, 0);
        nextDesc[q] = (head + 1) % size[q];
        publish(q, head);
        return head;
    }

    /** Takes {@code n} descriptors for a raw chain a test writes itself; returns the first. */
    public int takeDescriptors(int q, int n) {
        int first = nextDesc[q];
        nextDesc[q] = (first + n) % size[q];
        return first;
    }

    /** Writes {@code head} in the next available-ring slot and bumps the available index. */
    public void publish(int q, int head) {
        memory.writeShort(availRing(q) + 4 + 2L * (availIdx[q] % size[q]), (short) head);
        setAvailIdx(q, availIdx[q] + 1);
    }

    public void setAvailIdx(int q, int idx) {
        availIdx[q] = idx & 0xffff;
        memory.writeShort(availRing(q) + 2, (short) idx);
    }

    public int availIdx(int q) { return availIdx[q]; }
    public void setAvailFlags(int q, int flags) { memory.writeShort(availRing(q), (short) flags); }
    public void setUsedEvent(int q, int idx) { memory.writeShort(availRing(q) + 4 + 2L * size[q], (short) idx); }
    public int availEvent(int q) { return memory.readShort(usedRing(q) + 4 + 8L * size[q]) & 0xffff; }

    public void kick(int q) { write(QUEUE_NOTIFY, q); }

    public int usedIdx(int q) { return memory.readShort(usedRing(q) + 2) & 0xffff; }

    /** How many used elements the driver has not taken yet. */
    public int pendingUsed(int q) { return (usedIdx(q) - lastUsed[q]) & 0xffff; }

    /** The next used element, or null when the device has returned nothing new. */
    public Used poll(int q) {
        if (usedIdx(q) == lastUsed[q]) return null;
        long e = usedRing(q) + 4 + 8L * (lastUsed[q] % size[q]);
        lastUsed[q] = (lastUsed[q] + 1) & 0xffff;
        return new Used(memory.readInt(e), memory.readInt(e + 4));
    }

    /** Waits for the next used element (devices with a worker answer asynchronously). */
    public Used await(int q) {
        await(() -> usedIdx(q) != lastUsed[q], "a used buffer on queue " + q + " (" + mmio.lastError() + ")");
        return poll(q);
    }

    /** Spins until {@code done}, failing after {@link #TIMEOUT_NANOS}. */
    public static void await(BooleanSupplier done, String what) {
        long deadline = System.nanoTime() + TIMEOUT_NANOS;
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
            Thread.yield();
        }
    }
}
