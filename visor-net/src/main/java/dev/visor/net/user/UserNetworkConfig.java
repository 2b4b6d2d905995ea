package dev.visor.net.user;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Addresses of the user-mode network as the guest sees it, and the host port forwards. The defaults
 * are QEMU's: network 10.0.2.0/24, gateway (the host) 10.0.2.2, DNS 10.0.2.3, guest (DHCP) 10.0.2.15.
 *
 * <pre>
 *   UserNetworkConfig c = UserNetworkConfig.parse("hostfwd=tcp:127.0.0.1:8022-:22,hostfwd=udp::5353-:53");
 * </pre>
 */
public record UserNetworkConfig(Inet4Address network, int prefixLength, Inet4Address gateway, Inet4Address dns,
                                Inet4Address dhcpStart, List<HostForward> forwards) {

    public UserNetworkConfig {
        Objects.requireNonNull(network, "network");
        Objects.requireNonNull(gateway, "gateway");
        Objects.requireNonNull(dns, "dns");
        Objects.requireNonNull(dhcpStart, "dhcpStart");
        forwards = List.copyOf(forwards);
        // /30 is the smallest net with room for gateway, DNS and guest besides network and broadcast.
        if (prefixLength < 8 || prefixLength > 29) throw new IllegalArgumentException("network prefix must be /8../29, not /" + prefixLength);
        int net = toInt(network), mask = mask(prefixLength);
        if ((net & ~mask) != 0) throw new IllegalArgumentException("network " + network.getHostAddress() + "/" + prefixLength + " has host bits set");
        for (Inet4Address a : List.of(gateway, dns, dhcpStart)) {
            int v = toInt(a);
            if ((v & mask) != net || (v & ~mask) == 0 || (v & ~mask) == ~mask) {
                throw new IllegalArgumentException(a.getHostAddress() + " is not a host address in " + network.getHostAddress() + "/" + prefixLength);
            }
        }
        if (gateway.equals(dhcpStart) || dns.equals(dhcpStart)) throw new IllegalArgumentException("the DHCP address must differ from the gateway and DNS addresses");
    }

    /** QEMU's default addresses and no forwards. */
    public static UserNetworkConfig defaults() {
        return derive(ipv4(10, 0, 2, 0), 24, null, null, null, List.of());
    }

    /**
     * Parses QEMU-style option text (what follows {@code user,} in {@code -netdev user,...}): comma-separated
     * {@code net=A.B.C.D[/N]}, {@code host=}, {@code dns=}, {@code dhcpstart=}, {@code id=} (ignored) and any number of
     * {@code hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport}. An empty host address means 127.0.0.1, an
     * empty guest address the DHCP address.
     *
     * @throws IllegalArgumentException with a one-line message naming the bad option
     */
    public static UserNetworkConfig parse(String options) {
        Objects.requireNonNull(options, "options");
        String text = options.strip();
        if (text.equals("user")) text = "";
        else if (text.startsWith("user,")) text = text.substring(5);
        Inet4Address net = ipv4(10, 0, 2, 0), host = null, dns = null, dhcp = null;
        int prefix = 24;
        List<String> rules = new ArrayList<>();
        if (!text.isEmpty()) {
            for (String option : text.split(",", -1)) {
                int eq = option.indexOf('=');
                if (eq <= 0) throw new IllegalArgumentException("bad network option '" + option + "' (expected key=value)");
                String key = option.substring(0, eq), value = option.substring(eq + 1);
                switch (key) {
                    case "net" -> {
                        int slash = value.indexOf('/');
                        net = parseIpv4(slash < 0 ? value : value.substring(0, slash), option);
                        if (slash >= 0) prefix = parsePrefix(value.substring(slash + 1), option);
                    }
                    case "host" -> host = parseIpv4(value, option);
                    case "dns" -> dns = parseIpv4(value, option);
                    case "dhcpstart" -> dhcp = parseIpv4(value, option);
                    case "hostfwd" -> rules.add(value);
                    case "id" -> { }
                    default -> throw new IllegalArgumentException("unknown network option '" + key
                            + "' (known: net, host, dns, dhcpstart, hostfwd, id)");
                }
            }
        }
        UserNetworkConfig base = derive(net, prefix, host, dns, dhcp, List.of());
        List<HostForward> forwards = new ArrayList<>();
        for (String rule : rules) forwards.add(parseForward(rule, base.dhcpStart()));
        return new UserNetworkConfig(base.network, base.prefixLength, base.gateway, base.dns, base.dhcpStart, forwards);
    }

    /** Fills unset addresses as QEMU does: host .2, DNS .3, DHCP .15 of the network. */
    private static UserNetworkConfig derive(Inet4Address net, int prefix, Inet4Address host, Inet4Address dns,
                                            Inet4Address dhcp, List<HostForward> forwards) {
        if (prefix < 8 || prefix > 29) throw new IllegalArgumentException("network prefix must be /8../29, not /" + prefix);
        int base = toInt(net) & mask(prefix);
        if (host == null) host = fromInt(base + 2);
        if (dns == null) dns = fromInt(base + 3);
        if (dhcp == null) dhcp = fromInt(base + (prefix <= 27 ? 15 : 4));
        return new UserNetworkConfig(net, prefix, host, dns, dhcp, forwards);
    }

    private static HostForward parseForward(String rule, Inet4Address defaultGuest) {
        String where = "hostfwd=" + rule;
        int dash = rule.indexOf('-');
        if (dash < 0) throw new IllegalArgumentException(where + ": expected [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport");
        String[] h = rule.substring(0, dash).split(":", -1);
        String[] g = rule.substring(dash + 1).split(":", -1);
        if (h.length != 3 || g.length != 2) {
            throw new IllegalArgumentException(where + ": expected [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport");
        }
        HostForward.Protocol protocol = switch (h[0].toLowerCase(Locale.ROOT)) {
            case "", "tcp" -> HostForward.Protocol.TCP;
            case "udp" -> HostForward.Protocol.UDP;
            default -> throw new IllegalArgumentException(where + ": protocol must be tcp or udp, not '" + h[0] + "'");
        };
        Inet4Address hostAddress = h[1].isEmpty() ? ipv4(127, 0, 0, 1) : parseIpv4(h[1], where);
        Inet4Address guestAddress = g[0].isEmpty() ? defaultGuest : parseIpv4(g[0], where);
        return new HostForward(protocol, hostAddress, parsePort(h[2], where), guestAddress, parsePort(g[1], where));
    }

    private static int parsePort(String s, String where) {
        int port = parseNumber(s, 65535);
        if (port < 1) throw new IllegalArgumentException(where + ": bad port '" + s + "' (expected 1..65535)");
        return port;
    }

    private static int parsePrefix(String s, String where) {
        int n = parseNumber(s, 32);
        if (n < 8 || n > 29) throw new IllegalArgumentException(where + ": bad prefix length '" + s + "' (expected 8..29)");
        return n;
    }

    /** A decimal number 0..max, or -1. */
    private static int parseNumber(String s, int max) {
        if (s.isEmpty() || s.length() > 5) return -1;
        int n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') return -1;
            n = n * 10 + (c - '0');
        }
        return n <= max ? n : -1;
    }

    /** Strict dotted-quad parsing (never a DNS lookup). */
    static Inet4Address parseIpv4(String s, String where) {
        String[] parts = s.split("\\.", -1);
        byte[] b = new byte[4];
        boolean ok = parts.length == 4;
        for (int i = 0; ok && i < 4; i++) {
            int v = parts[i].length() <= 3 ? parseNumber(parts[i], 255) : -1;
            ok = v >= 0;
            b[i] = (byte) v;
        }
        if (!ok) throw new IllegalArgumentException(where + ": bad address '" + s + "' (expected an IPv4 address like 10.0.2.15)");
        return fromBytes(b);
    }

    static Inet4Address ipv4(int a, int b, int c, int d) {
        return fromBytes(new byte[] {(byte) a, (byte) b, (byte) c, (byte) d});
    }

    static int toInt(Inet4Address a) {
        byte[] b = a.getAddress();
        return (b[0] & 0xff) << 24 | (b[1] & 0xff) << 16 | (b[2] & 0xff) << 8 | (b[3] & 0xff);
    }

    static Inet4Address fromInt(int v) {
        return fromBytes(new byte[] {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v});
    }

    static int mask(int prefix) {
        return prefix == 0 ? 0 : -1 << (32 - prefix);
    }

    private static Inet4Address fromBytes(byte[] b) {
        try {
            return (Inet4Address) InetAddress.getByAddress(b);
        } catch (UnknownHostException e) {
            throw new AssertionError(e); // four bytes are always a valid address
        }
    }
}
