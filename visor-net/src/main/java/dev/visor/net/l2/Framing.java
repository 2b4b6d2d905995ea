package dev.visor.net.l2;

import java.nio.ByteBuffer;

/**
 * The switch's stream framing (a 4-byte big-endian length, then the Ethernet frame) and the few
 * Ethernet header facts the switch needs. All bounds checks on the wire format live here.
 */
final class Framing {
    /** Bytes of the length prefix. */
    static final int HEADER = 4;
    /** Smallest frame: an Ethernet header (dst MAC, src MAC, type) with no payload. */
    static final int MIN_FRAME = 14;
    /**
     * Largest frame: an Ethernet header plus a 64 KiB payload (a virtio-net guest with offloads may
     * hand over 64 KiB segments). Also the cap that stops a client from making a peer buffer without bound.
     */
    static final int MAX_FRAME = 14 + 65536;
    /** Read buffer size: holds two largest frames, so many small frames arrive per read(2). */
    static final int BUFFER = 2 * (HEADER + MAX_FRAME);

    /** {@link #complete} result: the buffer does not yet hold the whole frame. */
    static final int NEED_MORE = -1;
    /** {@link #complete} result: the length prefix is out of range; the stream is garbage. */
    static final int BAD = -2;

    private Framing() { }

    /**
     * Looks at the length-prefixed frame starting at {@code buf.position()} (buffer in read mode)
     * without moving it. Returns the frame's length if all of it is in the buffer, {@link #NEED_MORE}
     * if not, or {@link #BAD} as soon as the length prefix is out of range.
     */
    static int complete(ByteBuffer buf) {
        if (buf.remaining() < HEADER) {
            return NEED_MORE;
        }
        int len = buf.getInt(buf.position());
        if (len < MIN_FRAME || len > MAX_FRAME) {
            return BAD;
        }
        return buf.remaining() - HEADER >= len ? len : NEED_MORE;
    }

    /** True when a frame of {@code len} bytes may go on the wire. */
    static boolean validLength(int len) {
        return len >= MIN_FRAME && len <= MAX_FRAME;
    }

    /** The 48-bit MAC address at {@code buf[off..off+6)}, packed big-endian into a long. */
    static long mac(ByteBuffer buf, int off) {
        return ((long) (buf.getShort(off) & 0xffff) << 32) | (buf.getInt(off + 2) & 0xffff_ffffL);
    }

    /** True for group addresses (broadcast and multicast): the low bit of the first octet. */
    static boolean isMulticast(long mac) {
        return (mac & (1L << 40)) != 0;
    }
}
