package dev.visor.devices.virtio.blk;

import dev.visor.devices.virtio.FakeDriver;
import dev.visor.devices.virtio.FakeDriver.Buf;
import dev.visor.devices.virtio.FakeDriver.Used;
import dev.visor.devices.virtio.RecordingIrq;
import dev.visor.devices.virtio.VirtioMmio;
import dev.visor.machine.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;

import static dev.visor.devices.virtio.FakeDriver.*;
import static org.junit.jupiter.api.Assertions.*;

class VirtioBlkTest {
    static final long RAM = 0x8000_0000L;
    private final GuestMemory memory = new GuestMemory(RAM, 16 << 20);
    private final RecordingIrq irq = new RecordingIrq();
    private MemoryDisk disk;
    private VirtioBlk blk;
    private FakeDriver driver;

    private void open(boolean readOnly) {
        disk = new MemoryDisk(64 * 1024, readOnly);
        blk = new VirtioBlk(memory, disk, "visor-disk-0");
        driver = new FakeDriver(memory, new VirtioMmio(memory, blk, irq), irq, RAM, 0x40_0000);
        driver.start(VERSION_1 | INDIRECT | EVENT_IDX, 128);
    }

    @AfterEach
    void close() { if (blk != null) blk.close(); }

    private long header(int type, long sector) {
        return driver.put(ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(type).putInt(0).putLong(sector).array());
    }

    /** Writes {@code data} at {@code sector}, split into two buffers; returns the status. */
    private int write(long sector, byte[] data) {
        long h = header(VirtioBlk.T_OUT, sector), d = driver.put(data), s = driver.alloc(1);
        int half = data.length / 2;
        int head = driver.submit(0, Buf.out(h, 16), Buf.out(d, half), Buf.out(d + half, data.length - half), Buf.in(s, 1));
        driver.kick(0);
        assertEquals(new Used(head, 1), driver.await(0));
        return memory.readByte(s);
    }

    /** Reads {@code n} bytes at {@code sector} through an indirect table; null unless the status is OK. */
    private byte[] read(long sector, int n) {
        long h = header(VirtioBlk.T_IN, sector), d = driver.alloc(n), s = driver.alloc(1);
        int head = driver.submitIndirect(0, Buf.out(h, 16), Buf.in(d, n), Buf.in(s, 1));
        driver.kick(0);
        Used u = driver.await(0);
        assertEquals(head, u.id());
        if (memory.readByte(s) != VirtioBlk.S_OK) return null;
        assertEquals(n + 1, u.len(), "data and status written");
        return driver.get(d, n);
    }

    private int simple(int type, long sector, byte[] payload) {
        long h = header(type, sector), s = driver.alloc(1);
        int head = payload == null ? driver.submit(0, Buf.out(h, 16), Buf.in(s, 1))
                : driver.submit(0, Buf.out(h, 16), Buf.out(driver.put(payload), payload.length), Buf.in(s, 1));
        driver.kick(0);
        assertEquals(head, driver.await(0).id());
        return memory.readByte(s);
    }

    private static byte[] segment(long sector, int count) {
        return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(sector).putInt(count).putInt(0).array();
    }

    @Test
    void writeThenReadBack() {
        open(false);
        byte[] data = new byte[3 * 512];
        new Random(1).nextBytes(data);
        assertEquals(VirtioBlk.S_OK, write(5, data));
        assertArrayEquals(data, Arrays.copyOfRange(disk.data, 5 * 512, 8 * 512));
        assertArrayEquals(data, read(5, data.length));
    }

    @Test
    void countsBytesAndOperations() {
        open(false);
        write(0, new byte[3 * 512]);
        write(8, new byte[512]);
        read(0, 1024);
        assertNull(read(128, 512), "a failed read moves no bytes and is no operation");
        simple(VirtioBlk.T_FLUSH, 0, null);
        assertEquals(4 * 512, blk.writtenBytes());
        assertEquals(2, blk.writeOps());
        assertEquals(1024, blk.readBytes());
        assertEquals(1, blk.readOps());
        assertEquals(5, blk.requests());
    }

    @Test
    void flushReachesTheBackend() {
        open(false);
        assertEquals(VirtioBlk.S_OK, simple(VirtioBlk.T_FLUSH, 0, null));
        assertEquals(1, disk.flushes);
    }

    @Test
    void outOfRangeIsAnIoErrorAndTheDeviceGoesOn() {
        open(false);
        assertNull(read(128, 512), "sector 128 is just past a 64 KiB disk");
        assertNull(read(127, 1024), "runs past the end");
        assertNull(read(Long.MAX_VALUE / 256, 512), "sector * 512 would overflow");
        assertEquals(VirtioBlk.S_IOERR, write(-1, new byte[512]));
        assertFalse(driver.needsReset());
        assertNotNull(read(127, 512));
    }

    @Test
    void readOnlyDiskRefusesWrites() {
        open(true);
        assertNotEquals(0, driver.deviceFeatures() & VirtioBlk.F_RO);
        assertEquals(VirtioBlk.S_IOERR, write(0, new byte[512]));
        assertNotNull(read(0, 512));
    }

    @Test
    void discardAndWriteZeroes() {
        open(false);
        byte[] ones = new byte[4 * 512];
        Arrays.fill(ones, (byte) 1);
        write(0, ones);
        assertEquals(VirtioBlk.S_OK, simple(VirtioBlk.T_WRITE_ZEROES, 0, segment(1, 1)));
        assertEquals(VirtioBlk.S_OK, simple(VirtioBlk.T_DISCARD, 0, segment(3, 1)));
        byte[] back = read(0, 4 * 512);
        assertEquals(1, back[0]);
        assertEquals(0, back[512]);
        assertEquals(1, back[1024]);
        assertEquals(0, back[1536]);
        assertArrayEquals(new long[] {1536, 512}, disk.discards.getFirst());
        assertEquals(VirtioBlk.S_IOERR, simple(VirtioBlk.T_DISCARD, 0, segment(127, 2)), "range past the end");
        assertEquals(VirtioBlk.S_UNSUPP, simple(99, 0, null));
    }

    @Test
    void getIdReturnsTheSerial() {
        open(false);
        long h = header(VirtioBlk.T_GET_ID, 0), id = driver.alloc(20), s = driver.alloc(1);
        driver.submit(0, Buf.out(h, 16), Buf.in(id, 20), Buf.in(s, 1));
        driver.kick(0);
        assertEquals(21, driver.await(0).len());
        assertEquals(VirtioBlk.S_OK, memory.readByte(s));
        assertEquals("visor-disk-0", new String(driver.get(id, 12), StandardCharsets.US_ASCII));
        assertEquals(0, memory.readByte(id + 12));
    }

    @Test
    void capacityAndResize() throws Exception {
        open(false);
        assertEquals(128, driver.config(0, 8));
        assertEquals(512, driver.config(20, 4), "blk_size");
        int gen = driver.read(CONFIG_GENERATION);
        driver.acknowledge();
        blk.resize(128 * 1024);
        assertEquals(INT_CONFIG, driver.read(INTERRUPT_STATUS) & INT_CONFIG);
        assertTrue(irq.level());
        assertNotEquals(gen, driver.read(CONFIG_GENERATION));
        assertEquals(256, driver.config(0, 8));
        assertNotNull(read(255, 512), "the new sectors are usable");
    }
}
