package dev.visor.devices.virtio.balloon;

import dev.visor.devices.virtio.FakeDriver;
import dev.visor.devices.virtio.FakeDriver.Buf;
import dev.visor.devices.virtio.RecordingIrq;
import dev.visor.devices.virtio.VirtioMmio;
import dev.visor.devices.virtio.balloon.BalloonStats.Stat;
import dev.visor.machine.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static dev.visor.devices.virtio.FakeDriver.*;
import static org.junit.jupiter.api.Assertions.*;

class VirtioBalloonTest {
    static final long RAM = 0x8000_0000L;
    static final int INFLATE = 0, DEFLATE = 1, STATS = 2;
    private final GuestMemory memory = new GuestMemory(RAM, 32 << 20);
    private final RecordingIrq irq = new RecordingIrq();
    private final VirtioBalloon balloon = new VirtioBalloon(memory, true);
    private final FakeDriver driver = new FakeDriver(memory, new VirtioMmio(memory, balloon, irq), irq, RAM, 0x40_0000);

    @AfterEach
    void close() { balloon.close(); }

    /** Sends {@code pfns} in requests of 256 frame numbers, as Linux does, and waits for each. */
    private void send(int queue, long[] pfns) {
        for (int from = 0; from < pfns.length; from += 256) {
            int n = Math.min(256, pfns.length - from);
            ByteBuffer b = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < n; i++) b.putInt((int) pfns[from + i]);
            int head = driver.submit(queue, Buf.out(driver.put(b.array()), 4 * n));
            driver.kick(queue);
            assertEquals(head, driver.await(queue).id());
        }
    }

    private static byte[] stats(long free, long total) {
        return ByteBuffer.allocate(30).order(ByteOrder.LITTLE_ENDIAN)
                .putShort((short) 4).putLong(free).putShort((short) 5).putLong(total).putShort((short) 99).putLong(7).array();
    }

    @Test
    void inflatingTouchedMemoryGivesItBackToTheHost() {
        driver.start(VERSION_1 | VirtioBalloon.F_STATS_VQ, 128, 128, 128);
        long start = RAM + (16 << 20), size = 8 << 20;
        int pages = (int) (size / 4096);
        for (long a = start; a < start + size; a += 4096) memory.writeLong(a, a); // make every page resident
        var range = memory.segment().asSlice(start - RAM, size);
        int before = Resident.pages(range);
        assertTrue(before >= pages * 9 / 10, "touched pages are resident: " + before);

        long[] pfns = new long[pages];
        for (int i = 0; i < pages; i++) pfns[i] = ((start >>> 12) + (i * 7L) % pages); // not in order, like Linux
        send(INFLATE, pfns);
        int after = Resident.pages(range);
        assertTrue(before - after >= pages * 3 / 4, "resident pages " + before + " -> " + after);
        assertEquals(pages, balloon.releasedPages());
        assertEquals(0, memory.readLong(start + 4096), "a released page reads as zero");
        assertFalse(driver.needsReset());

        send(DEFLATE, pfns);
        memory.writeLong(start, 1);
        assertEquals(1, memory.readLong(start), "deflated pages are usable again");
    }

    @Test
    void framesOutsideRamAreIgnoredNotFatal() {
        driver.start(VERSION_1, 128, 128, 128);
        memory.writeLong(RAM + 0x50_0000, 42);
        send(INFLATE, new long[] {0, 0xffff_ffffL, (RAM >>> 12) - 1, (RAM + memory.size()) >>> 12, (RAM + 0x50_0000) >>> 12});
        assertEquals(4, balloon.ignoredPfns());
        assertEquals(1, balloon.releasedPages());
        assertEquals(0, memory.readLong(RAM + 0x50_0000));
        assertFalse(driver.needsReset());
    }

    @Test
    void targetAndActualInConfig() {
        driver.start(VERSION_1 | VirtioBalloon.F_DEFLATE_ON_OOM, 128, 128);
        assertNotEquals(0, driver.deviceFeatures() & VirtioBalloon.F_DEFLATE_ON_OOM);
        assertEquals(0, driver.config(0, 4));
        balloon.setTargetBytes(8 << 20);
        assertEquals(2048, balloon.targetPages());
        assertEquals(INT_CONFIG, driver.acknowledge());
        assertEquals(2048, driver.config(0, 4), "num_pages");
        driver.writeConfig(4, 4, 1500);
        assertEquals(1500, balloon.actualPages());
        assertEquals(1500, driver.config(4, 4));
        driver.writeConfig(0, 4, 7);
        assertEquals(2048, driver.config(0, 4), "num_pages is the host's to set");
        balloon.setTargetPages(1L << 40);
        assertEquals(memory.size() / 4096, balloon.targetPages(), "clamped to guest RAM");
        assertThrows(IllegalArgumentException.class, () -> balloon.setTargetPages(-1));
    }

    @Test
    void statsRoundTrip() {
        // Linux posts its first stats buffer and kicks before DRIVER_OK.
        assertTrue(driver.negotiate(VERSION_1 | VirtioBalloon.F_STATS_VQ));
        for (int q = 0; q < 3; q++) driver.setupQueue(q, 128);
        int first = driver.submit(STATS, Buf.out(driver.put(stats(1000, 4000)), 30));
        driver.kick(STATS);
        driver.driverOk();
        FakeDriver.await(() -> balloon.stats().sequence() == 1, "the first stats buffer");
        assertEquals(1000, balloon.stats().get(Stat.FREE_MEMORY));
        assertEquals(4000, balloon.stats().get(Stat.TOTAL_MEMORY));
        assertEquals(-1, balloon.stats().get(Stat.SWAP_IN), "not reported");
        assertEquals(0, driver.pendingUsed(STATS), "the device holds the buffer");

        driver.acknowledge();
        assertTrue(balloon.requestStats());
        assertFalse(balloon.requestStats(), "one request at a time");
        assertEquals(first, driver.poll(STATS).id());
        assertEquals(INT_USED, driver.acknowledge());
        driver.submit(STATS, Buf.out(driver.put(stats(900, 4000)), 30));
        driver.kick(STATS);
        FakeDriver.await(() -> balloon.stats().sequence() == 2, "the refreshed stats");
        assertEquals(900, balloon.stats().get(Stat.FREE_MEMORY));
    }

    @Test
    void noStatsWithoutTheFeature() {
        driver.start(VERSION_1, 128, 128);
        assertFalse(balloon.requestStats());
        assertEquals(BalloonStats.NONE, balloon.stats());
    }
}
