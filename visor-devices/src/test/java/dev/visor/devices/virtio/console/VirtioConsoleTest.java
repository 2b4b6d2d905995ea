package dev.visor.devices.virtio.console;

import dev.visor.devices.virtio.FakeDriver;
import dev.visor.devices.virtio.FakeDriver.Buf;
import dev.visor.devices.virtio.FakeDriver.Used;
import dev.visor.devices.virtio.RecordingIrq;
import dev.visor.devices.virtio.VirtioMmio;
import dev.visor.machine.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

import static dev.visor.devices.virtio.FakeDriver.*;
import static org.junit.jupiter.api.Assertions.*;

class VirtioConsoleTest {
    static final long RAM = 0x8000_0000L;
    static final int RX = 0, TX = 1;
    private final GuestMemory memory = new GuestMemory(RAM, 16 << 20);
    private final RecordingIrq irq = new RecordingIrq();
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final VirtioConsole console = new VirtioConsole(memory, out);
    private final FakeDriver driver = new FakeDriver(memory, new VirtioMmio(memory, console, irq), irq, RAM, 0x40_0000);

    @AfterEach
    void close() { console.close(); }

    private static byte[] ascii(String s) { return s.getBytes(StandardCharsets.US_ASCII); }

    private String output() {
        synchronized (out) { return out.toString(StandardCharsets.US_ASCII); }
    }

    @Test
    void guestOutputReachesTheStream() {
        driver.start(VERSION_1 | INDIRECT, 128, 128);
        assertEquals(3, driver.read(DEVICE_ID));
        driver.submit(TX, Buf.out(driver.put(ascii("hello ")), 6), Buf.out(driver.put(ascii("world\n")), 6));
        driver.kick(TX);
        assertEquals(0, driver.await(TX).len());
        driver.submitIndirect(TX, Buf.out(driver.put(ascii("$ ")), 2));
        driver.kick(TX);
        driver.await(TX);
        FakeDriver.await(() -> output().equals("hello world\n$ "), "the output, got '" + output() + "'");
    }

    @Test
    void hostInputReachesGuestBuffers() {
        driver.start(VERSION_1, 128, 128);
        long a = driver.alloc(4096);
        int head = driver.submit(RX, Buf.in(a, 4096));
        driver.kick(RX);
        assertEquals(3, console.input(ascii("ls\n"), 0, 3));
        assertEquals(new Used(head, 3), driver.await(RX));
        assertEquals("ls\n", new String(driver.get(a, 3), StandardCharsets.US_ASCII));
        assertTrue(irq.level());
    }

    @Test
    void inputTypedEarlyWaitsForBuffersAndIsSplitAcrossThem() {
        assertEquals(10, console.input(ascii("0123456789"), 0, 10)); // before the driver even started
        driver.start(VERSION_1, 128, 128);
        long a = driver.alloc(4), b = driver.alloc(16);
        driver.submit(RX, Buf.in(a, 4));
        driver.submit(RX, Buf.in(b, 16));
        driver.kick(RX);
        assertEquals(4, driver.await(RX).len());
        assertEquals(6, driver.await(RX).len());
        assertEquals("0123", new String(driver.get(a, 4), StandardCharsets.US_ASCII));
        assertEquals("456789", new String(driver.get(b, 6), StandardCharsets.US_ASCII));
        assertEquals(0, console.pendingInput());
    }

    @Test
    void inputIsBoundedAndWrapsAround() {
        byte[] big = new byte[100_000];
        for (int i = 0; i < big.length; i++) big[i] = (byte) i;
        assertEquals(VirtioConsole.INPUT_CAPACITY, console.input(big, 0, big.length));
        assertEquals(0, console.input(big, 0, 1), "full");
        driver.start(VERSION_1, 128, 128);
        long a = driver.alloc(40_000);
        driver.submit(RX, Buf.in(a, 40_000));
        driver.kick(RX);
        assertEquals(40_000, driver.await(RX).len());
        int more = console.input(big, VirtioConsole.INPUT_CAPACITY, 30_000); // wraps around the ring
        assertEquals(30_000, more);
        long b = driver.alloc(60_000);
        driver.submit(RX, Buf.in(b, 60_000));
        driver.kick(RX);
        assertEquals(VirtioConsole.INPUT_CAPACITY - 40_000 + 30_000, driver.await(RX).len());
        byte[] got = driver.get(b, 55_536);
        for (int i = 0; i < got.length; i++) assertEquals(big[40_000 + i], got[i], "byte " + i);
    }
}
