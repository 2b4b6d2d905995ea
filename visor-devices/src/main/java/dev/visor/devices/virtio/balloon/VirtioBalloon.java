package dev.visor.devices.virtio.balloon;

import dev.visor.machine.state.StateException;
import dev.visor.machine.state.StateReader;
import dev.visor.machine.state.StateWriter;
import dev.visor.devices.virtio.DescriptorChain;
import dev.visor.devices.virtio.DeviceWorker;
import dev.visor.devices.virtio.VirtioDevice;
import dev.visor.devices.virtio.VirtioException;
import dev.visor.devices.virtio.Virtqueue;
import dev.visor.machine.GuestMemory;

import java.util.EnumMap;

/**
 * virtio-balloon (virtio 1.2 §5.5): lets the host take memory back from a running guest. The host
 * sets a target ({@link #setTargetPages}, {@link #setTargetBytes}: how many 4 KiB pages the balloon
 * should hold); the guest's driver allocates that many pages and hands their frame numbers over the
 * inflate queue, and the device gives those pages back to the host ({@link GuestMemory#release}), so
 * the VM's resident memory really drops. Deflating needs no work: the lazily backed RAM refills
 * when the guest touches the pages again. The guest reports how many pages the balloon holds in
 * {@link #actualPages()} and, on the stats queue, its memory statistics ({@link #stats()}).
 *
 * <p>Threading: the queues are served on the device's own worker; the host-side methods may be
 * called from any thread.
 */
public final class VirtioBalloon extends VirtioDevice {
    static final long F_STATS_VQ = 1L << 1, F_DEFLATE_ON_OOM = 1L << 2;
    static final int INFLATE = 0, DEFLATE = 1, STATS = 2;
    /** Balloon frame numbers count 4 KiB pages whatever the guest's own page size (VIRTIO_BALLOON_PFN_SHIFT). */
    static final int PFN_SHIFT = 12;
    static final int PAGE = 1 << PFN_SHIFT;
    /** One statistic on the wire: packed {le16 tag; le64 value}. */
    static final int STAT_SIZE = 10;
    /** Frame numbers taken from one request at most (Linux sends 256), so one request cannot hold the device for long. */
    private static final int MAX_PFNS = 1 << 16;
    /** Statistics read from one buffer at most: there are 16 known tags, a longer buffer is padding or garbage. */
    private static final int MAX_STATS = 64;

    private final boolean deflateOnOom;
    private final DeviceWorker worker;

    // ---- configuration space (le32 num_pages; le32 actual) ----
    /** Pages the host wants in the balloon (num_pages). */
    private volatile int targetPages;
    /** Pages the guest says the balloon holds (actual), written by the driver. */
    private volatile int actual;

    // ---- device state, under lock ----
    private Virtqueue[] queues;
    private DescriptorChain chain;
    private final byte[] pfns = new byte[4096];
    private final byte[] stat = new byte[STAT_SIZE];
    /** Head of the stats buffer the device holds until the host wants fresh statistics, or -1. */
    private int heldStats = -1;

    private volatile BalloonStats stats = BalloonStats.NONE;
    private volatile long releasedPages, ignoredPfns;

    /** A balloon whose guest must ask before deflating under memory pressure (as QEMU's default). */
    public VirtioBalloon(GuestMemory memory) { this(memory, false); }

    /**
     * @param deflateOnOom offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM: the guest may take pages back out of
     *                     the balloon on its own when it would otherwise run out of memory
     */
    public VirtioBalloon(GuestMemory memory, boolean deflateOnOom) {
        super(memory);
        this.deflateOnOom = deflateOnOom;
        worker = new DeviceWorker("virtio-balloon", this::serve);
    }

    @Override public int deviceId() { return 5; }
    @Override public String name() { return "virtio-balloon"; }
    @Override public int queueCount() { return 3; }
    @Override public int queueMaxSize() { return 128; }
    @Override public long features() { return F_STATS_VQ | (deflateOnOom ? F_DEFLATE_ON_OOM : 0); }

    // ---- host side ----

    /**
     * Sets how many 4 KiB pages the host wants the guest to give up (clamped to guest RAM) and tells
     * the guest through a configuration change. 0 deflates the balloon completely.
     */
    public void setTargetPages(long pages) {
        if (pages < 0) throw new IllegalArgumentException("balloon target must not be negative: " + pages);
        targetPages = (int) Math.min(pages, memory.size() >>> PFN_SHIFT);
        configChanged();
    }

    /** {@link #setTargetPages} in bytes, rounded down to whole pages. */
    public void setTargetBytes(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("balloon target must not be negative: " + bytes);
        setTargetPages(bytes >>> PFN_SHIFT);
    }

    public long targetPages() { return Integer.toUnsignedLong(targetPages); }

    /** Pages the guest says it has put in the balloon. */
    public long actualPages() { return Integer.toUnsignedLong(actual); }

    /** The latest statistics the guest reported ({@link BalloonStats#NONE} before the first report). */
    public BalloonStats stats() { return stats; }

    /**
     * Asks the guest for fresh statistics: gives back the stats buffer the device holds, which the
     * driver refills and posts again ({@link BalloonStats#sequence()} then grows). Returns false
     * when there is no buffer to give back (stats not negotiated, device not running, or a request
     * already outstanding).
     */
    public boolean requestStats() {
        synchronized (lock) {
            if (!running || heldStats < 0) return false;
            queues[STATS].pushUsed(heldStats, 0);
            heldStats = -1;
            notifyUsed(queues[STATS]);
            return true;
        }
    }

    /** Pages given back to the host since the device was created. */
    public long releasedPages() { return releasedPages; }

    /** Frame numbers the guest sent that lie outside its RAM (ignored). */
    public long ignoredPfns() { return ignoredPfns; }

    // ---- configuration space ----

    @Override
    public long readConfig(int offset, int size) {
        long v = 0;
        for (int i = size - 1; i >= 0; i--) v = (v << 8) | configByte(offset + i);
        return v;
    }

    private int configByte(int at) {
        return switch (at >>> 2) {
            case 0 -> (targetPages >>> (8 * at)) & 0xff;
            case 1 -> (actual >>> (8 * (at - 4))) & 0xff;
            default -> 0; // free_page_hint_cmd_id, poison_val: their features are not offered
        };
    }

    /** Only {@code actual} is writable; called under the transport's lock, so writes are serialized. */
    @Override
    public void writeConfig(int offset, int size, long value) {
        int a = actual;
        for (int i = 0; i < size; i++) {
            int at = offset + i;
            if (at < 4 || at >= 8) continue;
            int shift = 8 * (at - 4);
            a = (a & ~(0xff << shift)) | (int) ((value >>> (8 * i)) & 0xff) << shift;
        }
        actual = a;
    }

    // ---- queues ----

    @Override
    protected void start(Virtqueue[] queues) {
        this.queues = queues;
        chain = queues[0].newChain();
        heldStats = -1;
        // Linux posts its first stats buffer and kicks before DRIVER_OK, when the transport ignores
        // notifications: look at the queues now or that buffer would wait forever.
        worker.kick();
    }

    @Override
    protected void reset() { heldStats = -1; }

    @Override
    protected void kick(int index) { worker.kick(); }

    private void serve() {
        synchronized (lock) {
            if (!running) return;
            try {
                inflate(queues[INFLATE]);
                deflate(queues[DEFLATE]);
                if (negotiated(F_STATS_VQ)) takeStats(queues[STATS]);
            } catch (VirtioException e) {
                failed(e);
            }
        }
    }

    /** Each request is an array of le32 frame numbers; contiguous runs are released in one call. */
    private void inflate(Virtqueue q) throws VirtioException {
        while (q.pop(chain)) {
            long n = Math.min(chain.readableBytes() / 4, MAX_PFNS);
            long runStart = 0, runLength = 0;
            for (long i = 0; i < n; ) {
                int k = (int) Math.min(n - i, pfns.length / 4);
                chain.read(4 * i, pfns, 0, 4 * k);
                for (int j = 0; j < k; j++) {
                    long address = Integer.toUnsignedLong(intAt(pfns, 4 * j)) << PFN_SHIFT;
                    if (!memory.contains(address, PAGE)) {
                        ignoredPfns++; // not guest RAM: the driver's mistake, harmless to ignore
                    } else if (runLength > 0 && address == runStart + runLength) {
                        runLength += PAGE;
                    } else {
                        release(runStart, runLength);
                        runStart = address;
                        runLength = PAGE;
                    }
                }
                i += k;
            }
            release(runStart, runLength);
            q.pushUsed(chain.head(), 0);
        }
        notifyUsed(q);
    }

    private void release(long address, long length) {
        if (length == 0) return;
        memory.release(address, length);
        memory.markDirty(address, length); // the pages now read as zero: a migration must send them again
        releasedPages += length >>> PFN_SHIFT;
    }

    /** The guest takes pages back: the lazily backed RAM refills on touch, so only acknowledge. */
    private void deflate(Virtqueue q) throws VirtioException {
        while (q.pop(chain)) q.pushUsed(chain.head(), 0);
        notifyUsed(q);
    }

    /** Reads a stats buffer and holds it until {@link #requestStats()}, as the stats protocol wants. */
    private void takeStats(Virtqueue q) throws VirtioException {
        boolean gaveBack = false;
        while (q.pop(chain)) {
            if (heldStats >= 0) { // a second buffer: give the older one back rather than leak it
                q.pushUsed(heldStats, 0);
                gaveBack = true;
            }
            readStats(chain);
            heldStats = chain.head();
        }
        if (gaveBack) notifyUsed(q);
    }

    private void readStats(DescriptorChain c) throws VirtioException {
        EnumMap<BalloonStats.Stat, Long> values = new EnumMap<>(BalloonStats.Stat.class);
        values.putAll(stats.values());
        long n = Math.min(c.readableBytes() / STAT_SIZE, MAX_STATS);
        for (long i = 0; i < n; i++) {
            c.read(i * STAT_SIZE, stat, 0, STAT_SIZE);
            BalloonStats.Stat s = BalloonStats.Stat.ofTag((stat[0] & 0xff) | (stat[1] & 0xff) << 8);
            if (s != null) values.put(s, Integer.toUnsignedLong(intAt(stat, 2)) | (long) intAt(stat, 6) << 32);
        }
        stats = new BalloonStats(stats.sequence() + 1, values);
    }

    private static int intAt(byte[] b, int o) {
        return (b[o] & 0xff) | (b[o + 1] & 0xff) << 8 | (b[o + 2] & 0xff) << 16 | (b[o + 3] & 0xff) << 24;
    }

    @Override
    public void close() {
        worker.close();
        synchronized (lock) { running = false; }
    }

    // ---- state: the target the host set, what the guest reports, and the stats buffer held ----

    @Override
    public void saveState(StateWriter out) {
        synchronized (lock) {
            out.putInt("targetPages", targetPages).putInt("actual", actual).putInt("heldStats", heldStats);
        }
    }

    @Override
    public void restoreState(StateReader in) throws StateException {
        int target = in.getInt("targetPages", 0);
        if (Integer.toUnsignedLong(target) > (memory.size() >>> PFN_SHIFT)) throw in.invalid("balloon target beyond guest RAM");
        int held = in.getInt("heldStats", -1);
        synchronized (lock) {
            if (held >= 0 && (queues == null || held >= queues[STATS].size())) throw in.invalid("held stats buffer " + held + " is not in the queue");
            targetPages = target;
            actual = in.getInt("actual", 0);
            heldStats = held < 0 ? -1 : held;
        }
    }
}
