package dev.visor.net.l2;

import java.nio.ByteBuffer;

/** Builds and reads the Ethernet frames the switch tests send: a local experimental EtherType and a tag and sequence number. */
final class Frames {
    static final long BROADCAST = 0xffff_ffff_ffffL;
    /** IEEE 802 local experimental EtherType 1. */
    static final int TYPE = 0x88b5;

    private Frames() { }

    /** A {@code size}-byte frame from {@code src} to {@code dst} carrying {@code tag} and {@code seq}. */
    static ByteBuffer frame(long dst, long src, int tag, int seq, int size) {
        ByteBuffer b = ByteBuffer.allocate(size);
        putMac(b, 0, dst);
        putMac(b, 6, src);
        b.putShort(12, (short) TYPE).putInt(14, tag).putInt(18, seq);
        return b;
    }

    static ByteBuffer frame(long dst, long src, int tag, int seq) {
        return frame(dst, src, tag, seq, 60);
    }

    static void putMac(ByteBuffer b, int off, long mac) {
        b.putShort(off, (short) (mac >>> 32)).putInt(off + 2, (int) mac);
    }

    static long dst(byte[] f) {
        return Framing.mac(ByteBuffer.wrap(f), 0);
    }

    static long src(byte[] f) {
        return Framing.mac(ByteBuffer.wrap(f), 6);
    }

    static int tag(byte[] f) {
        return ByteBuffer.wrap(f).getInt(14);
    }

    static int seq(byte[] f) {
        return ByteBuffer.wrap(f).getInt(18);
    }
}
