package dev.visor.devices.virtio.net;

import dev.visor.devices.virtio.FakeDriver;
import dev.visor.devices.virtio.FakeDriver.Buf;
import dev.visor.devices.virtio.FakeDriver.Used;
import dev.visor.devices.virtio.RecordingIrq;
import dev.visor.devices.virtio.VirtioMmio;
import dev.visor.machine.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static dev.visor.devices.virtio.FakeDriver.*;
import static org.junit.jupiter.api.Assertions.*;

class VirtioNetTest {
    static final long RAM = 0x8000_0000L;
    static final int RX = 0, TX = 1, BUF = 12 + 1514;
    private final GuestMemory memory = new GuestMemory(RAM, 16 << 20);
    private final RecordingIrq irq = new RecordingIrq();
    private final FakeNetBackend backend = new FakeNetBackend();
    private VirtioNet net;
    private FakeDriver driver;

    @BeforeEach
    void setUp() throws Exception {
        net = new VirtioNet(memory, new byte[] {0x52, 0x54, 0, 0x12, 0x34, 0x56}, backend);
        driver = new FakeDriver(memory, new VirtioMmio(memory, net, irq), irq, RAM, 0x80_0000);
        driver.start(VERSION_1 | VirtioNet.F_MAC | EVENT_IDX, 256, 256);
    }

    @AfterEach
    void tearDown() { net.close(); }

    static byte[] frame(int n, int seed) {
        byte[] f = new byte[n];
        for (int i = 0; i < n; i++) f[i] = (byte) (seed + i);
        return f;
    }

    private long postRx() {
        long a = driver.alloc(BUF);
        driver.submit(RX, Buf.in(a, BUF));
        return a;
    }

    private void assertDelivered(long buffer, byte[] frame) {
        Used u = driver.await(RX);
        assertEquals(12 + frame.length, u.len());
        assertEquals(1, memory.readShort(buffer + 10), "num_buffers");
        assertArrayEquals(frame, driver.get(buffer + 12, frame.length));
    }

    @Test
    void macInConfig() {
        assertEquals(0x52, driver.config(0, 1));
        assertEquals(0x56, driver.config(5, 1));
    }

    @Test
    void transmittedFrameReachesTheBackendWithoutHeader() {
        byte[] f = frame(60, 7);
        long h = driver.alloc(12), d = driver.put(f);
        driver.submit(TX, Buf.out(h, 12), Buf.out(d, f.length));
        driver.kick(TX);
        assertEquals(0, driver.await(TX).len());
        FakeDriver.await(() -> backend.sent.size() == 1, "the frame at the backend");
        assertArrayEquals(f, backend.sent.getFirst());
    }

    @Test
    void receivedFrameGoesIntoAPostedBuffer() {
        long a = postRx();
        driver.kick(RX);
        byte[] f = frame(100, 3);
        assertTrue(backend.port.receive(ByteBuffer.wrap(f)));
        assertDelivered(a, f);
        assertTrue(irq.level());
    }

    @Test
    void framesWithoutBuffersWaitUntilTheGuestPostsSome() {
        byte[][] frames = {frame(60, 1), frame(70, 2), frame(80, 3)};
        for (byte[] f : frames) assertTrue(backend.port.receive(ByteBuffer.wrap(f)));
        assertEquals(0, driver.usedIdx(RX));
        long[] bufs = {postRx(), postRx(), postRx()};
        driver.kick(RX);
        for (int i = 0; i < 3; i++) assertDelivered(bufs[i], frames[i]);
    }

    @Test
    void cannotReceiveWhenThePendingQueueIsFull() {
        int accepted = 0;
        while (backend.port.canReceive() && accepted < 1000) {
            assertTrue(backend.port.receive(ByteBuffer.wrap(frame(60, accepted))));
            accepted++;
        }
        assertEquals(64, accepted);
        assertFalse(backend.port.receive(ByteBuffer.wrap(frame(60, 0))), "dropped when full");
        assertEquals(1, net.rxDropped());
        postRx();
        driver.kick(RX);
        assertEquals(1, backend.receiveReady.get(), "the backend hears that it may go on");
        assertTrue(backend.port.canReceive());
    }

    /** A queue disabled while the device runs may be pointed anywhere: the device must not use it. */
    @Test
    void disabledQueueIsNotUsedWhileTheDriverMovesIt() {
        driver.write(QUEUE_SEL, RX);
        driver.write(QUEUE_READY, 0);
        driver.write(QUEUE_DESC_LOW, 0x10);   // below RAM
        driver.write(QUEUE_AVAIL_LOW, 0x10);
        driver.write(QUEUE_USED_LOW, 0x10);
        driver.write(QUEUE_NUM, 3);
        assertTrue(backend.port.receive(ByteBuffer.wrap(frame(60, 0))), "held for later, not an exception");
        assertFalse(driver.needsReset());
        driver.start(VERSION_1, 256, 256);
        long a = postRx();
        driver.kick(RX);
        byte[] f = frame(64, 9);
        assertTrue(backend.port.receive(ByteBuffer.wrap(f)));
        assertDelivered(a, f);
    }

    @Test
    void countsFramesAndBytesBothWays() {
        long h = driver.alloc(12), d = driver.put(frame(60, 1));
        driver.submit(TX, Buf.out(h, 12), Buf.out(d, 60));
        driver.kick(TX);
        driver.await(TX);
        FakeDriver.await(() -> net.txFrames() == 1, "the transmit counted");
        assertEquals(60, net.txBytes(), "without the virtio header");
        long a = postRx(), b = postRx();
        driver.kick(RX);
        assertTrue(backend.port.receive(ByteBuffer.wrap(frame(100, 2))));
        assertTrue(backend.port.receive(ByteBuffer.wrap(frame(200, 3))));
        assertDelivered(a, frame(100, 2));
        assertDelivered(b, frame(200, 3));
        assertEquals(2, net.rxFrames());
        assertEquals(300, net.rxBytes());
        assertEquals(1, net.txFrames());
    }

    @Test
    void tooLongFramesAreRefused() {
        assertFalse(backend.port.receive(ByteBuffer.wrap(new byte[1515])));
        assertFalse(backend.port.receive(ByteBuffer.wrap(new byte[10])));
    }
}
