package dev.visor.devices.syscon;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class TestSysconTest {
    private final List<String> events = new ArrayList<>();
    private final TestSyscon syscon = new TestSyscon(new PowerListener() {
        @Override public void powerOff(int code) { events.add("off " + code); }
        @Override public void reset() { events.add("reset"); }
    });

    @Test
    void codes() {
        syscon.write(0, 4, 0x5555);
        syscon.write(0, 4, 0x7777);
        syscon.write(0, 4, 0x3333 | (3 << 16));
        syscon.write(0, 4, 0x3333 | (0xFFFF << 16));
        assertEquals(List.of("off 0", "reset", "off 3", "off 65535"), events);
    }

    @Test
    void ignoresOtherWrites() {
        syscon.write(0, 4, 0x1234);
        syscon.write(4, 4, 0x5555);
        syscon.write(0, 1, 0x55);
        syscon.write(0, 8, 0xFFFF_FFFF_0000_1111L);
        assertTrue(events.isEmpty());
        assertEquals(0, syscon.read(0, 4));
        syscon.write(0, 8, 0xABCD_0000_0000_5555L); // 8-byte: low 32 bits decoded
        assertEquals(List.of("off 0"), events);
    }
}
