package dev.visor.vmm;

import java.util.HexFormat;

/**
 * One network card as {@code --net} names it:
 * <ul>
 *   <li>{@code user[,hostfwd=tcp:127.0.0.1:8022-:22]...}: user-mode NAT (no root), with port forwards;
 *   <li>{@code switch:PATH}: join the L2 switch listening on the Unix socket PATH ({@code visor switch PATH});
 *   <li>{@code tap:NAME}: the host tap device NAME (needs root or a tap owned by this user).
 * </ul>
 * Any of them may add {@code ,mac=52:54:00:xx:xx:xx}.
 *
 * @param kind    user, switch or tap
 * @param target  the NAT options (user), the socket path (switch) or the device name (tap)
 * @param mac     the card's MAC address, or null for one picked by the VMM
 */
public record NetSpec(Kind kind, String target, byte[] mac) {
    public enum Kind { USER, SWITCH, TAP }

    public static NetSpec parse(String text) throws VmConfigException {
        byte[] mac = null;
        StringBuilder rest = new StringBuilder();
        for (String part : text.split(",", -1)) {
            if (part.startsWith("mac=")) {
                mac = parseMac(text, part.substring(4));
            } else {
                if (!rest.isEmpty()) rest.append(',');
                rest.append(part);
            }
        }
        String s = rest.toString();
        if (s.equals("user") || s.startsWith("user,")) {
            return new NetSpec(Kind.USER, s.equals("user") ? "" : s.substring(5), mac);
        }
        if (s.startsWith("switch:") && s.length() > 7) return new NetSpec(Kind.SWITCH, s.substring(7), mac);
        if (s.startsWith("tap:") && s.length() > 4) return new NetSpec(Kind.TAP, s.substring(4), mac);
        throw new VmConfigException("--net " + text + ": expected user[,hostfwd=...], switch:PATH or tap:NAME");
    }

    private static byte[] parseMac(String text, String m) throws VmConfigException {
        String[] bytes = m.split(":");
        if (bytes.length == 6) {
            try {
                byte[] mac = HexFormat.ofDelimiter(":").parseHex(m);
                if ((mac[0] & 1) != 0) throw new VmConfigException("--net " + text + ": " + m + " is a multicast address");
                return mac;
            } catch (IllegalArgumentException ignored) {
                // reported below
            }
        }
        throw new VmConfigException("--net " + text + ": mac must look like 52:54:00:12:34:56");
    }
}
