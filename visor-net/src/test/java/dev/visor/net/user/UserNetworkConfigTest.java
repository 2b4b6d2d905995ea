package dev.visor.net.user;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class UserNetworkConfigTest {
    @Test
    void emptyOptionsGiveQemuDefaults() {
        UserNetworkConfig c = UserNetworkConfig.parse("");
        assertEquals("10.0.2.0", c.network().getHostAddress());
        assertEquals(24, c.prefixLength());
        assertEquals("10.0.2.2", c.gateway().getHostAddress());
        assertEquals("10.0.2.3", c.dns().getHostAddress());
        assertEquals("10.0.2.15", c.dhcpStart().getHostAddress());
        assertEquals(List.of(), c.forwards());
        assertEquals(c, UserNetworkConfig.defaults());
    }

    @Test
    void hostForwards() {
        UserNetworkConfig c = UserNetworkConfig.parse("hostfwd=tcp:127.0.0.1:8022-:22,hostfwd=udp::5353-:53");
        assertEquals(2, c.forwards().size());
        HostForward ssh = c.forwards().get(0);
        assertEquals(HostForward.Protocol.TCP, ssh.protocol());
        assertEquals("127.0.0.1", ssh.hostAddress().getHostAddress());
        assertEquals(8022, ssh.hostPort());
        assertEquals("10.0.2.15", ssh.guestAddress().getHostAddress());
        assertEquals(22, ssh.guestPort());
        HostForward dns = c.forwards().get(1);
        assertEquals(HostForward.Protocol.UDP, dns.protocol());
        assertEquals("127.0.0.1", dns.hostAddress().getHostAddress(), "empty host address means 127.0.0.1");
        assertEquals(5353, dns.hostPort());
        assertEquals(53, dns.guestPort());
        assertEquals("udp:127.0.0.1:5353-10.0.2.15:53", dns.toString());
    }

    @Test
    void explicitAddressesAndDerivedDefaults() {
        UserNetworkConfig c = UserNetworkConfig.parse("user,id=n0,net=192.168.76.0/24,hostfwd=:0.0.0.0:2222-192.168.76.9:22");
        assertEquals("192.168.76.2", c.gateway().getHostAddress());
        assertEquals("192.168.76.3", c.dns().getHostAddress());
        assertEquals("192.168.76.15", c.dhcpStart().getHostAddress());
        HostForward f = c.forwards().getFirst();
        assertEquals(HostForward.Protocol.TCP, f.protocol(), "protocol defaults to tcp");
        assertEquals("0.0.0.0", f.hostAddress().getHostAddress());
        assertEquals("192.168.76.9", f.guestAddress().getHostAddress());
    }

    @Test
    void guestAddressDefaultIsTheDhcpAddressWhateverTheOrder() {
        UserNetworkConfig c = UserNetworkConfig.parse("hostfwd=tcp::80-:8080,dhcpstart=10.0.2.20");
        assertEquals("10.0.2.20", c.forwards().getFirst().guestAddress().getHostAddress());
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "hostfwd=tcp:127.0.0.1:8022",           // no guest part
        "hostfwd=sctp::1-:2",                    // protocol
        "hostfwd=tcp::0-:22",                    // port 0
        "hostfwd=tcp::65536-:22",                // port too large
        "hostfwd=tcp::22-:x",                    // not a number
        "hostfwd=tcp:1.2.3:22-:22",              // bad address
        "hostfwd=tcp:256.1.1.1:22-:22",          // bad address
        "hostfwd=tcp:localhost:22-:22",          // names are not looked up
        "hostfwd=tcp::22-10.0.3.1",              // guest part without port
        "bogus=1",                               // unknown option
        "hostfwd",                               // no value
        "net=10.0.2.0/33",                       // prefix
        "net=10.0.2.1/24",                       // host bits set
        "host=10.0.3.2",                         // outside the network
        "dhcpstart=10.0.2.2",                    // same as gateway
        "hostfwd=tcp::1-:2,,",                   // empty option
    })
    void badSyntaxIsOneLineError(String options) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> UserNetworkConfig.parse(options));
        assertNotNull(e.getMessage());
        assertFalse(e.getMessage().isBlank());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
    }
}
