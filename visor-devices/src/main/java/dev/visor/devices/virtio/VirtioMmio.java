package dev.visor.devices.virtio;

import dev.visor.machine.GuestMemory;
import dev.visor.machine.IrqLine;
import dev.visor.machine.MmioDevice;
import dev.visor.machine.state.StateException;
import dev.visor.machine.state.StateReader;
import dev.visor.machine.state.StateWriter;
import dev.visor.machine.state.Stateful;

/**
 * The virtio-mmio transport, version 2 (virtio 1.2 §4.2.2): the register window through which the
 * driver discovers a device, negotiates features, sets up queues, notifies and acknowledges
 * interrupts. A slot with no device answers with device ID 0, which drivers skip.
 *
 * <p>Register writes come from vCPU threads and are serialized here; the interrupt status has its
 * own small lock because device workers raise interrupts while holding their device's lock.
 */
public final class VirtioMmio implements MmioDevice, Stateful {
    static final int INT_USED = 1, INT_CONFIG = 2;

    /** The device's configuration space: from 0x100 to the end of the 4 KiB register window. */
    static final int CONFIG = 0x100, CONFIG_END = 0x1000;
    static final int MAGIC = 0x74726976; // "virt"
    static final int VENDOR = 0x53495656; // "VVIS"
    static final int STATUS_ACKNOWLEDGE = 1, STATUS_DRIVER = 2, STATUS_DRIVER_OK = 4, STATUS_FEATURES_OK = 8,
            STATUS_NEEDS_RESET = 64, STATUS_FAILED = 128;

    private final VirtioDevice device;
    private final Virtqueue[] queues;
    private final IrqLine irq;
    private final Object irqLock = new Object();

    private int deviceFeaturesSel, driverFeaturesSel, queueSel;
    private long driverFeatures;
    private volatile int status;
    private int interruptStatus;
    private final java.util.concurrent.atomic.AtomicInteger configGeneration = new java.util.concurrent.atomic.AtomicInteger();
    private volatile String lastError;

    /** @param device the device, or null for an empty slot */
    public VirtioMmio(GuestMemory memory, VirtioDevice device, IrqLine irq) {
        this.device = device;
        this.irq = irq;
        int n = device == null ? 0 : device.queueCount();
        queues = new Virtqueue[n];
        for (int i = 0; i < n; i++) {
            queues[i] = new Virtqueue(memory, device.queueMaxSize());
            queues[i].reset();
        }
        if (device != null) device.attach(this);
    }

    public VirtioDevice device() { return device; }

    /** Why the device last entered DEVICE_NEEDS_RESET, or null. */
    public String lastError() { return lastError; }

    public int status() { return status; }

    @Override
    public synchronized long read(long offset, int size) {
        if (offset >= CONFIG || offset < 0) { // beyond the window (or negative): 0, never a negative config offset
            return device == null || offset < 0 || offset >= CONFIG_END ? 0 : device.readConfig((int) (offset - CONFIG), size);
        }
        if (size != 4) return 0;
        Virtqueue q = selected();
        return switch ((int) offset) {
            case 0x000 -> MAGIC;
            case 0x004 -> 2;
            case 0x008 -> device == null ? 0 : device.deviceId();
            case 0x00c -> VENDOR;
            case 0x010 -> device == null || (deviceFeaturesSel & ~1) != 0 ? 0 : (int) (offeredFeatures() >>> (32 * deviceFeaturesSel));
            case 0x034 -> q == null || q.ready ? 0 : q.maxSize; // 0 also tells "this queue is in use"
            case 0x044 -> q != null && q.ready ? 1 : 0;
            case 0x060 -> interruptStatus();
            case 0x070 -> status;
            case 0x0fc -> configGeneration.get();
            default -> 0;
        } & 0xffff_ffffL;
    }

    @Override
    public synchronized void write(long offset, int size, long value) {
        if (device == null) return;
        if (offset >= CONFIG || offset < 0) {
            if (offset >= CONFIG && offset < CONFIG_END) device.writeConfig((int) (offset - CONFIG), size, value);
            return;
        }
        if (size != 4) return;
        int v = (int) value;
        Virtqueue q = selected();
        switch ((int) offset) {
            case 0x014 -> deviceFeaturesSel = v;
            case 0x020 -> {
                if ((status & STATUS_FEATURES_OK) != 0) return; // negotiation is over: what was checked stays
                if (driverFeaturesSel == 0) driverFeatures = (driverFeatures & ~0xffff_ffffL) | (v & 0xffff_ffffL);
                else if (driverFeaturesSel == 1) driverFeatures = (driverFeatures & 0xffff_ffffL) | ((long) v << 32);
            }
            case 0x024 -> driverFeaturesSel = v;
            case 0x030 -> queueSel = v;
            case 0x038 -> { if (q != null && !q.ready) q.size = v; }
            case 0x044 -> { if (q != null) setQueueReady(q, v == 1); }
            case 0x050 -> notifyQueue(v);
            case 0x064 -> acknowledge(v);
            case 0x070 -> writeStatus(v);
            case 0x080 -> { if (q != null && !q.ready) q.descAddr = low(q.descAddr, v); }
            case 0x084 -> { if (q != null && !q.ready) q.descAddr = high(q.descAddr, v); }
            case 0x090 -> { if (q != null && !q.ready) q.availAddr = low(q.availAddr, v); }
            case 0x094 -> { if (q != null && !q.ready) q.availAddr = high(q.availAddr, v); }
            case 0x0a0 -> { if (q != null && !q.ready) q.usedAddr = low(q.usedAddr, v); }
            case 0x0a4 -> { if (q != null && !q.ready) q.usedAddr = high(q.usedAddr, v); }
            default -> { } // read-only or unknown: ignored
        }
    }

    private Virtqueue selected() {
        return queueSel >= 0 && queueSel < queues.length ? queues[queueSel] : null;
    }

    private long offeredFeatures() { return device.features() | VirtioFeatures.TRANSPORT; }

    private static long low(long old, int v) { return (old & ~0xffff_ffffL) | (v & 0xffff_ffffL); }

    private static long high(long old, int v) { return (old & 0xffff_ffffL) | ((long) v << 32); }

    /** Under the device's lock, so a device never sees a queue half reconfigured (see {@link Virtqueue}). */
    private void setQueueReady(Virtqueue q, boolean ready) {
        synchronized (device.lock) {
            if (!ready) {
                q.ready = false;
                return;
            }
            try {
                q.validate();
                q.ready = true;
            } catch (VirtioException e) {
                needsReset(device.name() + ": " + e.getMessage());
            }
        }
    }

    private void notifyQueue(int index) {
        if ((status & STATUS_DRIVER_OK) == 0 || (status & STATUS_NEEDS_RESET) != 0) return;
        if (index >= 0 && index < queues.length && queues[index].ready) device.kick(index);
    }

    private void writeStatus(int v) {
        if (v == 0) {
            reset();
            return;
        }
        int old = status;
        int next = (v & 0xff) | (old & STATUS_NEEDS_RESET);
        if ((next & STATUS_FEATURES_OK) != 0 && (old & STATUS_FEATURES_OK) == 0) {
            long offered = offeredFeatures();
            if ((driverFeatures & ~offered) != 0 || (driverFeatures & VirtioFeatures.VERSION_1) == 0) {
                next &= ~STATUS_FEATURES_OK; // the driver reads it back and gives up on this device
            } else {
                for (Virtqueue q : queues) {
                    q.eventIdx = (driverFeatures & VirtioFeatures.RING_EVENT_IDX) != 0;
                    q.indirect = (driverFeatures & VirtioFeatures.RING_INDIRECT_DESC) != 0;
                }
            }
        }
        status = next;
        if ((next & STATUS_DRIVER_OK) != 0 && (old & STATUS_DRIVER_OK) == 0
                && (next & STATUS_FEATURES_OK) != 0 && (next & STATUS_NEEDS_RESET) == 0) {
            device.doStart(queues, driverFeatures);
        }
    }

    /** Device reset (status 0): stops the device first, so nothing touches the old rings afterwards. */
    private void reset() {
        device.doReset();
        for (Virtqueue q : queues) q.reset();
        status = 0;
        driverFeatures = 0;
        deviceFeaturesSel = driverFeaturesSel = queueSel = 0;
        synchronized (irqLock) {
            interruptStatus = 0;
            irq.set(false);
        }
    }

    private int interruptStatus() {
        synchronized (irqLock) {
            return interruptStatus;
        }
    }

    private void acknowledge(int bits) {
        synchronized (irqLock) {
            interruptStatus &= ~bits;
            irq.set(interruptStatus != 0);
        }
    }

    void raiseInterrupt(int bit) {
        synchronized (irqLock) {
            interruptStatus |= bit;
            irq.set(true);
        }
    }

    /** Puts the device into DEVICE_NEEDS_RESET and tells the driver through a configuration interrupt. */
    void needsReset(String why) {
        lastError = why;
        int s;
        do {
            s = status;
        } while (!STATUS_HANDLE.compareAndSet(this, s, s | STATUS_NEEDS_RESET));
        if ((s & STATUS_DRIVER_OK) != 0) raiseInterrupt(INT_CONFIG);
    }

    void configChanged() {
        configGeneration.incrementAndGet(); // no transport lock: may be called under the device's lock
        if ((status & STATUS_DRIVER_OK) != 0) raiseInterrupt(INT_CONFIG);
    }

    private static final java.lang.invoke.VarHandle STATUS_HANDLE;

    static {
        try {
            STATUS_HANDLE = java.lang.invoke.MethodHandles.lookup().findVarHandle(VirtioMmio.class, "status", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    // ---- state: the transport's registers and each queue's rings and positions ----
    // The device's own state is a record of its own (see VirtioDevice#saveState).

    @Override public String stateId() { return "virtio-mmio"; }

    /** Call while the VM is paused and the device quiesced. */
    @Override
    public synchronized void saveState(StateWriter out) {
        out.putInt("deviceId", device == null ? 0 : device.deviceId());
        out.putInt("status", status);
        out.putLong("driverFeatures", driverFeatures);
        out.putInt("deviceFeaturesSel", deviceFeaturesSel);
        out.putInt("driverFeaturesSel", driverFeaturesSel);
        out.putInt("queueSel", queueSel);
        out.putInt("interruptStatus", interruptStatus());
        out.putInt("configGeneration", configGeneration.get());
        out.putInt("queues", queues.length);
        for (int i = 0; i < queues.length; i++) {
            Virtqueue q = queues[i];
            String p = "q" + i + ".";
            out.putInt(p + "size", q.size);
            out.putLong(p + "desc", q.descAddr);
            out.putLong(p + "avail", q.availAddr);
            out.putLong(p + "used", q.usedAddr);
            out.putBool(p + "ready", q.ready);
            out.putBool(p + "eventIdx", q.eventIdx);
            out.putBool(p + "indirect", q.indirect);
            out.putInt(p + "lastAvail", q.lastAvail());
            out.putInt(p + "usedIdx", q.usedIndex());
            out.putInt(p + "signalled", q.signalledUsed());
        }
    }

    /**
     * Sets the transport as saved: the rings of ready queues are validated against this VM's RAM as
     * when the driver enabled them, and a device the driver had started is started again, quiesced
     * (it serves its queues once the VM resumes, see {@link VirtioDevice#unquiesce}). Restore the
     * device's own record after this one. Call before the VM runs.
     */
    @Override
    public synchronized void restoreState(StateReader in) throws StateException {
        int id = in.getInt("deviceId", 0);
        int mine = device == null ? 0 : device.deviceId();
        if (id != mine) throw in.invalid("holds virtio device type " + id + ", this VM has type " + mine + " in that slot");
        if (device == null) return;
        int n = in.getInt("queues", queues.length);
        if (n != queues.length) throw in.invalid(n + " queues, this " + device.name() + " has " + queues.length);
        int st = in.getInt("status", 0) & 0xff;
        long features = in.getLong("driverFeatures", 0);
        if ((st & STATUS_FEATURES_OK) != 0 && ((features & ~offeredFeatures()) != 0 || (features & VirtioFeatures.VERSION_1) == 0)) {
            throw in.invalid("the driver's features 0x" + Long.toHexString(features) + " are not all offered by this "
                    + device.name() + " (is it configured differently?)");
        }
        device.doReset(); // whatever ran here before is forgotten
        for (int i = 0; i < n; i++) {
            Virtqueue q = queues[i];
            String p = "q" + i + ".";
            q.reset();
            q.size = in.getInt(p + "size", q.maxSize);
            q.descAddr = in.getLong(p + "desc", 0);
            q.availAddr = in.getLong(p + "avail", 0);
            q.usedAddr = in.getLong(p + "used", 0);
            q.eventIdx = in.getBool(p + "eventIdx", false);
            q.indirect = in.getBool(p + "indirect", false);
            q.restorePositions(in.getInt(p + "lastAvail", 0), in.getInt(p + "usedIdx", 0), in.getInt(p + "signalled", 0));
            if (in.getBool(p + "ready", false)) {
                try {
                    q.validate();
                } catch (VirtioException e) {
                    throw in.invalid("queue " + i + ": " + e.getMessage());
                }
                q.ready = true;
            }
        }
        status = st;
        driverFeatures = features;
        deviceFeaturesSel = in.getInt("deviceFeaturesSel", 0);
        driverFeaturesSel = in.getInt("driverFeaturesSel", 0);
        queueSel = in.getInt("queueSel", 0);
        configGeneration.set(in.getInt("configGeneration", 0));
        if ((st & STATUS_DRIVER_OK) != 0 && (st & STATUS_FEATURES_OK) != 0 && (st & STATUS_NEEDS_RESET) == 0) {
            device.restoreStarted(queues, features);
        }
        synchronized (irqLock) {
            interruptStatus = in.getInt("interruptStatus", 0) & (INT_USED | INT_CONFIG);
            irq.set(interruptStatus != 0);
        }
    }
}
