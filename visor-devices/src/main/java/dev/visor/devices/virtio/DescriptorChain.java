package dev.visor.devices.virtio;

import dev.visor.machine.GuestMemory;

import java.lang.foreign.MemorySegment;

/**
 * One request taken off a virtqueue: the guest buffers of a descriptor chain, flattened (indirect
 * tables resolved), each already checked to lie inside guest RAM. The device-readable buffers come
 * first, then the device-writable ones, as the spec requires.
 *
 * <p>A device keeps one instance per queue and {@link Virtqueue#pop} refills it, so taking a request
 * allocates nothing. Devices address the chain's payload by byte offset within the readable part or
 * the writable part, which frees them from assuming how the driver split a request into buffers.
 */
public final class DescriptorChain {
    /** Head descriptor index: what goes back in the used ring. */
    int head;
    int count;
    /** Number of leading buffers the device may read; the rest it may write. */
    int readableCount;
    long readableBytes;
    long writableBytes;
    final long[] addr;
    final int[] len;
    private final GuestMemory memory;

    DescriptorChain(GuestMemory memory, int maxBuffers) {
        this.memory = memory;
        addr = new long[maxBuffers];
        len = new int[maxBuffers];
    }

    void clear(int head) {
        this.head = head;
        count = 0;
        readableCount = 0;
        readableBytes = 0;
        writableBytes = 0;
    }

    void add(long a, int l, boolean writable) throws VirtioException {
        if (count == addr.length) throw new VirtioException("descriptor chain longer than " + addr.length + " buffers");
        if (!memory.contains(a, Integer.toUnsignedLong(l))) {
            throw new VirtioException("buffer 0x" + Long.toHexString(a) + "+" + Integer.toUnsignedString(l) + " lies outside guest RAM");
        }
        if (writable) {
            writableBytes += Integer.toUnsignedLong(l);
        } else {
            if (count != readableCount) throw new VirtioException("device-readable buffer after a device-writable one");
            readableCount++;
            readableBytes += Integer.toUnsignedLong(l);
        }
        addr[count] = a;
        len[count] = l;
        count++;
    }

    public int head() { return head; }
    public long readableBytes() { return readableBytes; }
    public long writableBytes() { return writableBytes; }
    public int buffers() { return count; }
    public int readableBuffers() { return readableCount; }
    public long bufferAddress(int i) { return addr[i]; }
    public long bufferLength(int i) { return Integer.toUnsignedLong(len[i]); }
    public boolean isWritable(int i) { return i >= readableCount; }

    /** Copies {@code n} bytes starting {@code offset} bytes into the readable part into {@code dst}. */
    public void read(long offset, byte[] dst, int dstOff, int n) throws VirtioException {
        if (offset < 0 || offset + n > readableBytes) throw new VirtioException("request shorter than its header");
        for (int i = 0; i < readableCount && n > 0; i++) {
            long l = bufferLength(i);
            if (offset >= l) { offset -= l; continue; }
            int k = (int) Math.min(n, l - offset);
            memory.read(addr[i] + offset, dst, dstOff, k);
            dstOff += k;
            n -= k;
            offset = 0;
        }
    }

    /** Copies {@code n} bytes into the writable part, starting {@code offset} bytes into it. */
    public void write(long offset, byte[] src, int srcOff, int n) throws VirtioException {
        if (offset < 0 || offset + n > writableBytes) throw new VirtioException("device-writable buffers too short");
        for (int i = readableCount; i < count && n > 0; i++) {
            long l = bufferLength(i);
            if (offset >= l) { offset -= l; continue; }
            int k = (int) Math.min(n, l - offset);
            memory.write(addr[i] + offset, src, srcOff, k);
            srcOff += k;
            n -= k;
            offset = 0;
        }
    }

    /** Writes one byte {@code offset} bytes into the writable part (a status byte). */
    public void writeByte(long offset, byte value) throws VirtioException {
        for (int i = readableCount; i < count; i++) {
            long l = bufferLength(i);
            if (offset < l) {
                memory.writeByte(addr[i] + offset, value);
                return;
            }
            offset -= l;
        }
        throw new VirtioException("device-writable buffers too short");
    }

    /** Guest RAM of buffer {@code i} as a segment, for I/O straight into or out of the guest. */
    public MemorySegment segment(int i) { return memory.slice(addr[i], bufferLength(i)); }

    /** Tells dirty tracking that the device wrote {@code length} bytes at {@code address}. */
    public void dirtied(long address, long length) { memory.markDirty(address, length); }

    public GuestMemory memory() { return memory; }
}
