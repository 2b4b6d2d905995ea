package dev.visor.devices.virtio;

import dev.visor.machine.GuestMemory;

import java.lang.invoke.VarHandle;

/**
 * A split virtqueue (virtio 1.2 §2.7) as the device sees it: the descriptor table, the available
 * ring the driver fills and the used ring the device fills, all in guest RAM at addresses the driver
 * chose. Every index and address read from the guest is checked; anything malformed raises
 * {@link VirtioException} and the caller puts the device into DEVICE_NEEDS_RESET.
 *
 * <p>Not thread-safe: one thread at a time pops and pushes (the device's worker, under its lock).
 * The transport changes {@code ready} under the device's lock too, and the ring's size and addresses
 * only while the queue is not ready, when pop/push do nothing: so the device never uses a ring the
 * driver has not had validated.
 *
 * <pre>
 *   while (q.pop(chain)) { ...serve chain...; q.pushUsed(chain.head(), bytesWritten); }
 *   if (q.shouldInterrupt()) transport.interruptUsed();
 * </pre>
 */
public final class Virtqueue {
    private static final int DESC_SIZE = 16;
    private static final int F_NEXT = 1, F_WRITE = 2, F_INDIRECT = 4;
    private static final int AVAIL_F_NO_INTERRUPT = 1;

    private final GuestMemory memory;
    final int maxSize;

    // Set by the driver through the transport's registers.
    int size;
    long descAddr, availAddr, usedAddr;
    boolean ready;

    // Negotiated when the driver set FEATURES_OK.
    boolean eventIdx;
    boolean indirect;

    /** Next available-ring slot the device will take (free-running 16-bit). */
    private int lastAvail;
    /** Next used-ring slot the device will fill (free-running 16-bit). */
    private int usedIdx;
    /** usedIdx when the driver was last interrupted, for event-idx suppression. */
    private int signalledUsed;

    Virtqueue(GuestMemory memory, int maxSize) {
        this.memory = memory;
        this.maxSize = maxSize;
    }

    public int size() { return size; }
    public boolean isReady() { return ready; }

    /** A chain that can hold any request this queue may carry. */
    public DescriptorChain newChain() { return new DescriptorChain(memory, maxSize); }

    void reset() {
        size = maxSize;
        descAddr = availAddr = usedAddr = 0;
        ready = false;
        eventIdx = indirect = false;
        lastAvail = usedIdx = signalledUsed = 0;
    }

    /** Checks the rings the driver configured before the queue goes live. */
    void validate() throws VirtioException {
        if (size <= 0 || size > maxSize || Integer.bitCount(size) != 1) {
            throw new VirtioException("queue size " + size + " is not a power of two up to " + maxSize);
        }
        check(descAddr, (long) DESC_SIZE * size, 16, "descriptor table");
        check(availAddr, 6 + 2L * size, 2, "available ring");
        check(usedAddr, 6 + 8L * size, 4, "used ring");
    }

    private void check(long addr, long len, int align, String what) throws VirtioException {
        if ((addr & (align - 1)) != 0 || !memory.contains(addr, len)) {
            throw new VirtioException(what + " at 0x" + Long.toHexString(addr) + " is misaligned or outside guest RAM");
        }
    }

    /**
     * Takes the next request into {@code chain}. Returns false when the driver has made none
     * available; with event-idx it then asks the driver to notify on the next one.
     */
    public boolean pop(DescriptorChain chain) throws VirtioException {
        if (!ready) return false; // the driver disabled the queue: its addresses may be changing
        int avail = availIndex();
        if (avail == lastAvail) {
            if (!eventIdx) return false;
            // Ask for a kick when the next buffer arrives, then look again: the driver may have added
            // one after we read its index but before it could see our avail_event.
            memory.writeShort(usedAddr + 4 + 8L * size, (short) lastAvail);
            VarHandle.fullFence();
            avail = availIndex();
            if (avail == lastAvail) return false;
        }
        if (((avail - lastAvail) & 0xffff) > size) {
            throw new VirtioException("available index moved by more than the queue size");
        }
        VarHandle.acquireFence(); // the ring entry and descriptors were written before the index
        int head = memory.readShort(availAddr + 4 + 2L * (lastAvail & (size - 1))) & 0xffff;
        lastAvail = (lastAvail + 1) & 0xffff;
        walk(head, chain);
        return true;
    }

    /** Puts back the chain {@link #pop} just returned, so the next pop returns it again (nothing else may pop between). */
    public void unpop() {
        lastAvail = (lastAvail - 1) & 0xffff;
    }

    /** Requests the driver has made available and the device has not taken yet. */
    public boolean hasAvailable() {
        return ready && availIndex() != lastAvail;
    }

    private int availIndex() { return memory.readShort(availAddr + 2) & 0xffff; }

    private void walk(int head, DescriptorChain chain) throws VirtioException {
        if (head >= size) throw new VirtioException("descriptor index " + head + " out of range (queue size " + size + ")");
        chain.clear(head);
        long table = descAddr;
        int tableSize = size;
        int idx = head;
        int visited = 0;
        boolean inIndirect = false;
        while (true) {
            if (idx >= tableSize) throw new VirtioException("descriptor index " + idx + " out of range");
            if (++visited > tableSize) throw new VirtioException("descriptor chain loops");
            long d = table + (long) DESC_SIZE * idx;
            long addr = memory.readLong(d);
            int len = memory.readInt(d + 8);
            int flags = memory.readShort(d + 12) & 0xffff;
            int next = memory.readShort(d + 14) & 0xffff;
            if ((flags & F_INDIRECT) != 0) {
                if (!indirect) throw new VirtioException("indirect descriptor without VIRTIO_F_INDIRECT_DESC");
                if (inIndirect) throw new VirtioException("nested indirect descriptor table");
                if ((flags & F_NEXT) != 0) throw new VirtioException("indirect descriptor with NEXT set");
                long bytes = Integer.toUnsignedLong(len);
                if (bytes == 0 || bytes % DESC_SIZE != 0 || bytes / DESC_SIZE > maxSize) {
                    throw new VirtioException("indirect table length " + bytes + " is not 16 * n with n <= " + maxSize);
                }
                // No alignment check: the spec asks 16 bytes of the queue's table only, and a Linux
                // guest with slab debugging may hand out 8-byte aligned indirect tables.
                if (!memory.contains(addr, bytes)) {
                    throw new VirtioException("indirect table at 0x" + Long.toHexString(addr) + " lies outside guest RAM");
                }
                table = addr;
                tableSize = (int) (bytes / DESC_SIZE);
                idx = 0;
                visited = 0;
                inIndirect = true;
                continue;
            }
            chain.add(addr, len, (flags & F_WRITE) != 0);
            if ((flags & F_NEXT) == 0) return;
            idx = next;
        }
    }

    /** Returns a finished request to the driver; {@code written} is how many bytes the device wrote. */
    public void pushUsed(int head, int written) {
        if (!ready) return;
        long e = usedAddr + 4 + 8L * (usedIdx & (size - 1));
        memory.writeInt(e, head);
        memory.writeInt(e + 4, written);
        usedIdx = (usedIdx + 1) & 0xffff;
        VarHandle.releaseFence(); // the entry is visible before the index that publishes it
        memory.writeShort(usedAddr + 2, (short) usedIdx);
    }

    /**
     * True when the driver wants an interrupt for the buffers used since the last one (honouring
     * used_event with event-idx, or the NO_INTERRUPT flag without it).
     */
    public boolean shouldInterrupt() {
        if (!ready) return false;
        VarHandle.fullFence(); // our used index is visible before we read the driver's wishes
        int old = signalledUsed;
        int now = usedIdx;
        if (old == now) return false;
        signalledUsed = now;
        if (eventIdx) {
            int event = memory.readShort(availAddr + 4 + 2L * size) & 0xffff;
            return ((now - event - 1) & 0xffff) < ((now - old) & 0xffff);
        }
        return (memory.readShort(availAddr) & AVAIL_F_NO_INTERRUPT) == 0;
    }

    // ---- state for snapshots and migration ----

    public int lastAvail() { return lastAvail; }
    public int usedIndex() { return usedIdx; }
    int signalledUsed() { return signalledUsed; }

    /** Sets the ring positions of a restored queue (16-bit free-running indices). */
    void restorePositions(int lastAvail, int usedIdx, int signalledUsed) {
        this.lastAvail = lastAvail & 0xffff;
        this.usedIdx = usedIdx & 0xffff;
        this.signalledUsed = signalledUsed & 0xffff;
    }
}
