package dev.visor.net.user;

import dev.visor.net.GuestPort;

import java.nio.ByteBuffer;

import static dev.visor.net.user.Packets.*;

/**
 * The way to the guest: one reusable output frame, the gateway's and guest's MAC addresses, and the
 * {@link GuestPort}. Everything that answers the guest builds its frame in {@link #out} (layout in
 * {@link Packets}) and calls one of the send methods. Selector thread only.
 */
final class GuestLink {
    /** The frame being built; reused for every frame we send (the port copies it). */
    final byte[] out = new byte[MAX_FRAME];
    private final ByteBuffer outBuffer = ByteBuffer.wrap(out);
    private final GuestPort port;
    /** The gateway's (our) MAC address. */
    final long gatewayMac;
    /** The guest's MAC address, learnt from its frames; broadcast until it has sent one. */
    long guestMac = BROADCAST_MAC;
    private int ipId;
    /** Frames the port refused (guest had no receive buffers). */
    long dropped;

    GuestLink(GuestPort port, long gatewayMac) {
        this.port = port;
        this.gatewayMac = gatewayMac;
    }

    boolean canReceive() {
        return port.canReceive();
    }

    /**
     * Writes the Ethernet and IPv4 headers (DF set, TTL 64) for an IP packet whose {@code l4Length}-byte
     * payload is at {@link Packets#L4}, and hands the frame to the guest.
     */
    boolean sendIpv4(long dstMac, int protocol, int src, int dst, int l4Length) {
        putMac(out, 0, dstMac);
        putMac(out, 6, gatewayMac);
        put16(out, 12, ETHERTYPE_IPV4);
        out[IP] = 0x45;
        out[IP + 1] = 0;
        put16(out, IP + 2, IP_HEADER + l4Length);
        put16(out, IP + 4, ipId++);
        put16(out, IP + 6, 0x4000);
        out[IP + 8] = 64;
        out[IP + 9] = (byte) protocol;
        put16(out, IP + 10, 0);
        put32(out, IP + 12, src);
        put32(out, IP + 16, dst);
        put16(out, IP + 10, Checksums.finish(Checksums.add(0, out, IP, IP_HEADER)));
        return transmit(L4 + l4Length);
    }

    /** Sends a UDP datagram whose {@code length}-byte payload is already at {@link Packets#UDP_PAYLOAD}. */
    boolean sendUdp(long dstMac, int src, int srcPort, int dst, int dstPort, int length) {
        int udpLength = UDP_HEADER + length;
        put16(out, L4, srcPort);
        put16(out, L4 + 2, dstPort);
        put16(out, L4 + 4, udpLength);
        put16(out, L4 + 6, 0);
        int sum = Checksums.finish(Checksums.add(Checksums.pseudoHeader(src, dst, PROTO_UDP, udpLength), out, L4, udpLength));
        put16(out, L4 + 6, sum == 0 ? 0xffff : sum); // 0 means "no checksum" in UDP
        return sendIpv4(dstMac, PROTO_UDP, src, dst, udpLength);
    }

    /** Sends the first {@code length} bytes of {@link #out} as they are. */
    boolean transmit(int length) {
        outBuffer.limit(length).position(0);
        boolean ok = port.receive(outBuffer);
        if (!ok) dropped++;
        return ok;
    }
}
