package dev.visor.net.user;

import static dev.visor.net.user.Packets.*;

/**
 * ARP (RFC 826) for the addresses the gateway owns (gateway and DNS): answers requests for them with
 * the gateway MAC. The guest's own addresses are learnt by {@link UserNetwork} from every frame.
 * Selector thread only.
 */
final class ArpResponder {
    private static final int ARP = ETH_HEADER;
    private static final int ARP_LENGTH = 28;
    private static final int OP_REQUEST = 1, OP_REPLY = 2;

    private final GuestLink link;
    private final int gatewayIp, dnsIp;

    ArpResponder(GuestLink link, int gatewayIp, int dnsIp) {
        this.link = link;
        this.gatewayIp = gatewayIp;
        this.dnsIp = dnsIp;
    }

    /** Handles an ARP frame of {@code length} bytes; returns the sender's IP if it announced one, else 0. */
    int onFrame(byte[] f, int length) {
        if (length < ARP + ARP_LENGTH) return 0;
        if (u16(f, ARP) != 1 || u16(f, ARP + 2) != ETHERTYPE_IPV4 || u8(f, ARP + 4) != 6 || u8(f, ARP + 5) != 4) return 0;
        int op = u16(f, ARP + 6);
        long senderMac = mac(f, ARP + 8);
        int senderIp = i32(f, ARP + 14);
        int targetIp = i32(f, ARP + 24);
        if (op == OP_REQUEST && (targetIp == gatewayIp || targetIp == dnsIp) && senderIp != targetIp) {
            byte[] o = link.out;
            putMac(o, 0, senderMac);
            putMac(o, 6, link.gatewayMac);
            put16(o, 12, ETHERTYPE_ARP);
            put16(o, ARP, 1);
            put16(o, ARP + 2, ETHERTYPE_IPV4);
            o[ARP + 4] = 6;
            o[ARP + 5] = 4;
            put16(o, ARP + 6, OP_REPLY);
            putMac(o, ARP + 8, link.gatewayMac);
            put32(o, ARP + 14, targetIp);
            putMac(o, ARP + 18, senderMac);
            put32(o, ARP + 24, senderIp);
            link.transmit(ARP + ARP_LENGTH);
        }
        return senderIp;
    }
}
