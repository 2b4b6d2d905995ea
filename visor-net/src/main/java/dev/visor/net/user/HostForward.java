package dev.visor.net.user;

import java.net.Inet4Address;
import java.util.Objects;

/**
 * One port forward from the host into the guest, as QEMU's {@code hostfwd=tcp:127.0.0.1:8022-:22}:
 * {@link UserNetwork} listens on {@code hostAddress:hostPort} and relays each TCP connection (or UDP
 * client) to {@code guestAddress:guestPort}, where the guest sees it come from the gateway address.
 */
public record HostForward(Protocol protocol, Inet4Address hostAddress, int hostPort, Inet4Address guestAddress, int guestPort) {
    /** The transport a forward relays. */
    public enum Protocol { TCP, UDP }

    public HostForward {
        Objects.requireNonNull(protocol, "protocol");
        Objects.requireNonNull(hostAddress, "hostAddress");
        Objects.requireNonNull(guestAddress, "guestAddress");
        if (hostPort < 1 || hostPort > 65535) throw new IllegalArgumentException("host port must be 1..65535, not " + hostPort);
        if (guestPort < 1 || guestPort > 65535) throw new IllegalArgumentException("guest port must be 1..65535, not " + guestPort);
    }

    /** The QEMU spelling, e.g. {@code tcp:127.0.0.1:8022-10.0.2.15:22}. */
    @Override
    public String toString() {
        return protocol.name().toLowerCase(java.util.Locale.ROOT) + ":" + hostAddress.getHostAddress() + ":" + hostPort
                + "-" + guestAddress.getHostAddress() + ":" + guestPort;
    }
}
