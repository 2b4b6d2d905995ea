package dev.visor.net.user;

import static dev.visor.net.user.Packets.*;

/**
 * ICMP echo (RFC 792) to the gateway and DNS addresses, answered directly. Echo requests to other
 * addresses are dropped: relaying them would need raw or "ping" sockets the host may not allow.
 * Selector thread only.
 */
final class IcmpResponder {
    private static final int ECHO_REPLY = 0, ECHO_REQUEST = 8;

    private final GuestLink link;

    IcmpResponder(GuestLink link) {
        this.link = link;
    }

    /** Handles an ICMP message of {@code length} bytes at {@code off} in {@code f}, sent from src to dst. */
    void onMessage(byte[] f, int off, int length, int src, int dst) {
        if (length < 8 || length > MTU - IP_HEADER || u8(f, off) != ECHO_REQUEST || u8(f, off + 1) != 0) return;
        if (!Checksums.valid(Checksums.add(0, f, off, length))) return;
        byte[] o = link.out;
        System.arraycopy(f, off, o, L4, length);
        o[L4] = ECHO_REPLY;
        put16(o, L4 + 2, 0);
        put16(o, L4 + 2, Checksums.finish(Checksums.add(0, o, L4, length)));
        link.sendIpv4(link.guestMac, PROTO_ICMP, dst, src, length);
    }
}
