package dev.visor.devices.virtio.rng;

import dev.visor.devices.virtio.FakeDriver;
import dev.visor.devices.virtio.FakeDriver.Buf;
import dev.visor.devices.virtio.FakeDriver.Used;
import dev.visor.devices.virtio.RecordingIrq;
import dev.visor.devices.virtio.VirtioMmio;
import dev.visor.machine.GuestMemory;
import org.junit.jupiter.api.Test;

import static dev.visor.devices.virtio.FakeDriver.*;
import static org.junit.jupiter.api.Assertions.*;

class VirtioRngTest {
    static final long RAM = 0x8000_0000L;
    private final GuestMemory memory = new GuestMemory(RAM, 16 << 20);
    private final FakeDriver driver = new FakeDriver(memory, new VirtioMmio(memory, new VirtioRng(memory), new RecordingIrq()),
            new RecordingIrq(), RAM, 0x10_0000);

    private static boolean allZero(byte[] b) {
        for (byte x : b) if (x != 0) return false;
        return true;
    }

    @Test
    void fillsTheBufferWithRandomBytes() {
        driver.start(VERSION_1 | INDIRECT, 64);
        long a = driver.alloc(64);
        int head = driver.submit(0, Buf.in(a, 64));
        driver.kick(0);
        assertEquals(new Used(head, 64), driver.poll(0));
        assertFalse(allZero(driver.get(a, 64)));
    }

    @Test
    void splitAndIndirectBuffersAreFilledAndLongRequestsCapped() {
        driver.start(VERSION_1 | INDIRECT, 64);
        long a = driver.alloc(16), b = driver.alloc(16);
        int head = driver.submitIndirect(0, Buf.in(a, 16), Buf.in(b, 16));
        driver.kick(0);
        assertEquals(new Used(head, 32), driver.poll(0));
        assertFalse(allZero(driver.get(a, 16)));
        assertFalse(allZero(driver.get(b, 16)));
        long big = driver.alloc(8192);
        driver.submit(0, Buf.in(big, 8192));
        driver.kick(0);
        assertEquals(4096, driver.poll(0).len(), "one request gets at most 4 KiB");
        assertTrue(allZero(driver.get(big + 4096, 4096)));
    }
}
