package dev.visor.devices.rtc;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.*;

class GoldfishRtcTest {
    private static long read64(GoldfishRtc rtc) {
        long lo = rtc.read(GoldfishRtc.TIME_LOW, 4);
        long hi = rtc.read(GoldfishRtc.TIME_HIGH, 4);
        return hi << 32 | lo;
    }

    @Test
    void timeIsHostWallClock() {
        GoldfishRtc rtc = new GoldfishRtc(lvl -> { });
        long before = System.currentTimeMillis();
        long t = read64(rtc);
        long after = System.currentTimeMillis();
        assertTrue(t / 1_000_000 >= before - 1 && t / 1_000_000 <= after + 1, t + " vs " + before + ".." + after);
        long t8 = rtc.read(GoldfishRtc.TIME_LOW, 8);
        assertTrue(Math.abs(t8 / 1_000_000 - System.currentTimeMillis()) < 1000);
    }

    @Test
    void highIsLatchedByLowRead() {
        AtomicLong wall = new AtomicLong(0x1_FFFF_FFF0L);
        GoldfishRtc rtc = new GoldfishRtc(lvl -> { }, wall::get);
        assertEquals(0xFFFF_FFF0L, rtc.read(GoldfishRtc.TIME_LOW, 4));
        wall.set(0x2_0000_0010L); // the low half wraps between the two reads
        assertEquals(1, rtc.read(GoldfishRtc.TIME_HIGH, 4), "high half from the latch, not now");
    }

    @Test
    void writingTimeSetsOffset() {
        AtomicLong wall = new AtomicLong(1_000_000_000_000L);
        GoldfishRtc rtc = new GoldfishRtc(lvl -> { }, wall::get);
        rtc.write(GoldfishRtc.TIME_HIGH, 4, 0x5);
        rtc.write(GoldfishRtc.TIME_LOW, 4, 0x10);
        assertEquals(0x5_0000_0010L, read64(rtc));
        wall.addAndGet(100);
        assertEquals(0x5_0000_0074L, read64(rtc), "keeps running from the new time");
        assertEquals(0x5_0000_0074L, rtc.nanos());
    }

    @Test
    void alarmDueNowFiresAtOnce() {
        AtomicLong wall = new AtomicLong(10_000);
        AtomicBoolean irq = new AtomicBoolean();
        GoldfishRtc rtc = new GoldfishRtc(irq::set, wall::get);
        rtc.write(GoldfishRtc.IRQ_ENABLED, 4, 1);
        rtc.write(GoldfishRtc.ALARM_HIGH, 4, 0);
        rtc.write(GoldfishRtc.ALARM_LOW, 4, 9_000);
        assertTrue(irq.get());
        assertEquals(0, rtc.read(GoldfishRtc.ALARM_STATUS, 4), "fired, no longer armed");
        assertEquals(9_000, rtc.read(GoldfishRtc.ALARM_LOW, 4));
        rtc.write(GoldfishRtc.CLEAR_INTERRUPT, 4, 1);
        assertFalse(irq.get());
    }

    @Test
    void irqEnableGatesTheLine() {
        AtomicBoolean irq = new AtomicBoolean();
        GoldfishRtc rtc = new GoldfishRtc(irq::set, () -> 10_000);
        rtc.write(GoldfishRtc.ALARM_LOW, 4, 1);
        assertFalse(irq.get(), "fired but not enabled");
        rtc.write(GoldfishRtc.IRQ_ENABLED, 4, 1);
        assertTrue(irq.get(), "enabling shows the fired alarm");
        assertEquals(1, rtc.read(GoldfishRtc.IRQ_ENABLED, 4));
        rtc.write(GoldfishRtc.IRQ_ENABLED, 4, 0);
        assertFalse(irq.get());
    }

    @Test
    void futureAlarmFiresOnTimerThread() throws InterruptedException {
        CountDownLatch fired = new CountDownLatch(1);
        GoldfishRtc rtc = new GoldfishRtc(lvl -> { if (lvl) fired.countDown(); });
        rtc.write(GoldfishRtc.IRQ_ENABLED, 4, 1);
        long at = read64(rtc) + 30_000_000L; // 30 ms ahead
        rtc.write(GoldfishRtc.ALARM_HIGH, 4, at >>> 32);
        rtc.write(GoldfishRtc.ALARM_LOW, 4, at & 0xFFFFFFFFL);
        assertEquals(1, rtc.read(GoldfishRtc.ALARM_STATUS, 4));
        assertTrue(fired.await(5, TimeUnit.SECONDS));
        assertTrue(rtc.nanos() >= at);
        assertEquals(0, rtc.read(GoldfishRtc.ALARM_STATUS, 4));
    }

    @Test
    void clearAlarmCancels() throws InterruptedException {
        AtomicBoolean irq = new AtomicBoolean();
        GoldfishRtc rtc = new GoldfishRtc(irq::set);
        rtc.write(GoldfishRtc.IRQ_ENABLED, 4, 1);
        long at = read64(rtc) + 20_000_000L;
        rtc.write(GoldfishRtc.ALARM_HIGH, 4, at >>> 32);
        rtc.write(GoldfishRtc.ALARM_LOW, 4, at & 0xFFFFFFFFL);
        rtc.write(GoldfishRtc.CLEAR_ALARM, 4, 1);
        assertEquals(0, rtc.read(GoldfishRtc.ALARM_STATUS, 4));
        Thread.sleep(60);
        assertFalse(irq.get());
    }

    @Test
    void unknownAccessesAreHarmless() {
        GoldfishRtc rtc = new GoldfishRtc(lvl -> { });
        assertEquals(0, rtc.read(0x20, 4));
        assertEquals(0, rtc.read(GoldfishRtc.TIME_HIGH, 2));
        rtc.write(0x40, 4, 1);
        rtc.write(-8, 4, 1);
        rtc.write(GoldfishRtc.TIME_LOW, 1, 0);
        rtc.close();
    }
}
