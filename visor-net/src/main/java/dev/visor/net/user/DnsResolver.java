package dev.visor.net.user;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.visor.net.user.Packets.*;

/**
 * The DNS server at the DNS address (RFC 1035), answered through the host's resolver: A queries are
 * looked up with {@link InetAddress#getAllByName} on a virtual thread (the lookup blocks), AAAA queries
 * get an empty answer (the guest network is IPv4 only), other types and opcodes NOTIMP.
 *
 * <p>Threads: {@link #onQuery} and {@link #deliverAnswers} run on the selector thread; lookups on
 * virtual threads hand their answer back through a queue and {@code wakeup}.
 */
final class DnsResolver {
    static final int PORT = 53;
    private static final int HEADER = 12;
    private static final int TYPE_A = 1, TYPE_AAAA = 28, CLASS_IN = 1;
    private static final int NOERROR = 0, SERVFAIL = 2, NXDOMAIN = 3, NOTIMP = 4;
    /** Cap on lookups in flight, so a guest flooding queries cannot make us start unbounded threads. */
    private static final int MAX_PENDING = 64;
    /** Answers per response: keeps it under DNS's classic 512-byte UDP limit. */
    private static final int MAX_ANSWERS = 16;
    private static final int TTL_SECONDS = 60;

    /** A finished response for the guest. */
    private record Answer(int guestIp, int guestPort, byte[] message) { }

    private final GuestLink link;
    private final int dnsIp;
    private final Runnable wakeup;
    private final Queue<Answer> answers = new ConcurrentLinkedQueue<>();
    private final AtomicInteger pending = new AtomicInteger();

    DnsResolver(GuestLink link, int dnsIp, Runnable wakeup) {
        this.link = link;
        this.dnsIp = dnsIp;
        this.wakeup = wakeup;
    }

    /** Handles a query of {@code length} bytes (UDP payload) at {@code off} from guestIp:guestPort. */
    void onQuery(byte[] f, int off, int length, int guestIp, int guestPort) {
        if (length < HEADER + 5 || length > 512) return;
        int flags = u16(f, off + 2);
        if ((flags & 0x8000) != 0 || u16(f, off + 4) != 1) return; // a response, or not exactly one question
        StringBuilder name = new StringBuilder();
        int p = off + HEADER, end = off + length;
        while (true) {
            if (p >= end) return;
            int label = u8(f, p++);
            if (label == 0) break;
            if (label > 63 || p + label > end || name.length() + label > 253) return; // compression is not used in questions
            if (!name.isEmpty()) name.append('.');
            for (int i = 0; i < label; i++) name.append((char) (f[p + i] & 0xff));
            p += label;
        }
        if (p + 4 > end) return;
        int type = u16(f, p), qclass = u16(f, p + 2);
        p += 4;
        byte[] query = new byte[p - off];
        System.arraycopy(f, off, query, 0, query.length);
        int opcode = (flags >>> 11) & 0xf;
        if (opcode != 0 || qclass != CLASS_IN || (type != TYPE_A && type != TYPE_AAAA)) {
            send(guestIp, guestPort, response(query, NOTIMP, null));
        } else if (type == TYPE_AAAA) {
            send(guestIp, guestPort, response(query, NOERROR, null));
        } else if (pending.incrementAndGet() > MAX_PENDING) {
            pending.decrementAndGet();
            send(guestIp, guestPort, response(query, SERVFAIL, null));
        } else {
            String host = name.toString();
            Thread.ofVirtual().name("visor-dns").start(() -> {
                answers.add(new Answer(guestIp, guestPort, lookup(query, host)));
                pending.decrementAndGet();
                wakeup.run();
            });
        }
    }

    /** Sends the responses of finished lookups. Selector thread. */
    void deliverAnswers() {
        for (Answer a; (a = answers.poll()) != null; ) send(a.guestIp, a.guestPort, a.message);
    }

    private static byte[] lookup(byte[] query, String host) {
        try {
            if (host.isEmpty()) return response(query, NXDOMAIN, null);
            InetAddress[] all = InetAddress.getAllByName(host);
            int n = 0;
            byte[][] v4 = new byte[MAX_ANSWERS][];
            for (InetAddress a : all) if (a instanceof Inet4Address && n < MAX_ANSWERS) v4[n++] = a.getAddress();
            byte[][] found = new byte[n][];
            System.arraycopy(v4, 0, found, 0, n);
            return response(query, NOERROR, found);
        } catch (UnknownHostException e) {
            return response(query, NXDOMAIN, null);
        } catch (RuntimeException e) {
            return response(query, SERVFAIL, null);
        }
    }

    /** The query's header and question with the response flags, then one A record per address. */
    static byte[] response(byte[] query, int rcode, byte[][] addresses) {
        int count = addresses == null ? 0 : addresses.length;
        byte[] r = new byte[query.length + count * 16];
        System.arraycopy(query, 0, r, 0, query.length);
        int flags = u16(query, 2);
        // QR, the query's opcode and RD, RA (we recurse through the host), the result code.
        put16(r, 2, 0x8000 | (flags & 0x7900) | 0x0080 | rcode);
        put16(r, 6, count);
        put16(r, 8, 0);
        put16(r, 10, 0); // any EDNS OPT record of the query is not echoed
        int p = query.length;
        for (int i = 0; i < count; i++) {
            put16(r, p, 0xc000 | HEADER); // the name: a pointer to the question's
            put16(r, p + 2, TYPE_A);
            put16(r, p + 4, CLASS_IN);
            put32(r, p + 6, TTL_SECONDS);
            put16(r, p + 10, 4);
            System.arraycopy(addresses[i], 0, r, p + 12, 4);
            p += 16;
        }
        return r;
    }

    private void send(int guestIp, int guestPort, byte[] message) {
        System.arraycopy(message, 0, link.out, UDP_PAYLOAD, message.length);
        link.sendUdp(link.guestMac, dnsIp, PORT, guestIp, guestPort, message.length);
    }
}
