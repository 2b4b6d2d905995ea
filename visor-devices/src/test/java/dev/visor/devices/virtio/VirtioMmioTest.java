package dev.visor.devices.virtio;

import dev.visor.devices.virtio.FakeDriver.Buf;
import dev.visor.devices.virtio.FakeDriver.Used;
import dev.visor.devices.virtio.balloon.VirtioBalloon;
import dev.visor.devices.virtio.rng.VirtioRng;
import dev.visor.machine.GuestMemory;
import org.junit.jupiter.api.Test;

import static dev.visor.devices.virtio.FakeDriver.*;
import static org.junit.jupiter.api.Assertions.*;

/** The virtio-mmio transport, driven through its registers (rng and balloon as simple devices). */
class VirtioMmioTest {
    static final long RAM = 0x8000_0000L;
    private final GuestMemory memory = new GuestMemory(RAM, 16 << 20);
    private final RecordingIrq irq = new RecordingIrq();
    private final VirtioMmio mmio = new VirtioMmio(memory, new VirtioRng(memory), irq);
    private final FakeDriver driver = new FakeDriver(memory, mmio, irq, RAM + 0x10_0000, 0x10_0000);

    @Test
    void identifiesItself() {
        assertEquals(0x74726976, driver.read(MAGIC), "'virt'");
        assertEquals(2, driver.read(VERSION), "virtio-mmio version 2 (virtio 1.x)");
        assertEquals(4, driver.read(DEVICE_ID));
        assertEquals(0x53495656, driver.read(VENDOR_ID));
        assertEquals(VirtioFeatures.TRANSPORT, driver.deviceFeatures());
        driver.write(DEVICE_FEATURES_SEL, 2);
        assertEquals(0, driver.read(DEVICE_FEATURES), "feature words beyond the second are zero, not a repeat of word 0");
        assertEquals(0, mmio.read(STATUS, 2), "registers answer only 32-bit reads");
    }

    @Test
    void offsetsBeyondTheWindowReadZeroAndIgnoreWrites() throws Exception {
        VirtioMmio net = new VirtioMmio(memory, new dev.visor.devices.virtio.net.VirtioNet(memory, new byte[6],
                new dev.visor.net.NetBackend() {
                    @Override public void start(dev.visor.net.GuestPort guest) { }
                    @Override public void send(java.nio.ByteBuffer frame) { }
                    @Override public void close() { }
                }), irq);
        assertEquals(0, net.read(0x8000_0100L, 4), "(int) (offset - 0x100) would be negative");
        assertEquals(0, net.read(0x1_0000_0100L, 4), "would wrap onto config offset 0");
        assertEquals(0, net.read(-8, 4));
        net.write(STATUS, 4, ACKNOWLEDGE);
        net.write(0xffff_ffff_0000_0070L, 4, 0); // low word is STATUS: must not reset the device
        assertEquals(ACKNOWLEDGE, net.read(STATUS, 4));
        net.device().close();
    }

    @Test
    void emptySlotHasDeviceIdZeroAndIgnoresWrites() {
        VirtioMmio empty = new VirtioMmio(memory, null, irq);
        assertEquals(0x74726976, empty.read(MAGIC, 4));
        assertEquals(0, empty.read(DEVICE_ID, 4));
        empty.write(STATUS, 4, ACKNOWLEDGE);
        assertEquals(0, empty.read(STATUS, 4));
        assertEquals(0, empty.read(CONFIG, 4));
    }

    @Test
    void featuresOkRefusedWithoutVersion1OrWithUnofferedBits() {
        assertFalse(driver.negotiate(0), "a legacy driver (no VERSION_1) is refused");
        assertFalse(driver.negotiate(VERSION_1 | 1L << 40), "bit 40 was not offered");
        assertFalse(driver.negotiate(VERSION_1 | 1), "rng offers no device bits");
        assertTrue(driver.negotiate(VERSION_1 | EVENT_IDX));
    }

    @Test
    void driverFeaturesAreFrozenOnceFeaturesOk() {
        assertTrue(driver.negotiate(VERSION_1));
        driver.write(DRIVER_FEATURES, 0xffff_ffff); // would add unoffered bits after the check
        driver.setupQueue(0, 8);
        driver.driverOk();
        long data = driver.alloc(16);
        driver.submitIndirect(0, Buf.in(data, 16));
        driver.kick(0);
        assertTrue(driver.needsReset(), "indirect was not negotiated, whatever was written after FEATURES_OK");
    }

    @Test
    void resetClearsStatusQueuesAndInterrupts() {
        driver.start(VERSION_1, 8);
        driver.submit(0, Buf.in(driver.alloc(8), 8));
        driver.kick(0);
        assertTrue(irq.level());
        driver.write(QUEUE_SEL, 0);
        assertEquals(1, driver.read(QUEUE_READY));
        driver.write(STATUS, 0);
        assertEquals(0, driver.status());
        assertEquals(0, driver.read(INTERRUPT_STATUS));
        assertFalse(irq.level(), "reset lowers the line");
        assertEquals(0, driver.read(QUEUE_READY));
        assertEquals(64, driver.read(QUEUE_NUM_MAX));
        driver.kick(0); // before DRIVER_OK: ignored
        assertEquals(0, driver.read(INTERRUPT_STATUS));
    }

    @Test
    void configGenerationChangesAndConfigInterruptOnConfigChange() {
        VirtioBalloon balloon = new VirtioBalloon(memory);
        VirtioMmio bm = new VirtioMmio(memory, balloon, irq);
        FakeDriver d = new FakeDriver(memory, bm, irq, RAM + 0x20_0000, 0x10_0000);
        d.start(VERSION_1, 8, 8);
        int gen = d.read(CONFIG_GENERATION);
        balloon.setTargetPages(10);
        assertNotEquals(gen, d.read(CONFIG_GENERATION));
        assertEquals(INT_CONFIG, d.read(INTERRUPT_STATUS));
        assertTrue(irq.level());
        d.acknowledge();
        assertFalse(irq.level());
        balloon.close();
    }

    @Test
    void eventIdxSuppressesUntilUsedEventPassed() {
        driver.start(VERSION_1 | EVENT_IDX, 8);
        driver.setUsedEvent(0, 1); // interrupt only once the used index passes 1
        driver.submit(0, Buf.in(driver.alloc(4), 4));
        driver.kick(0);
        assertEquals(1, driver.usedIdx(0));
        assertEquals(0, driver.read(INTERRUPT_STATUS), "used_event 1 not yet passed");
        assertEquals(1, driver.availEvent(0), "the device asks to be kicked for the next buffer");
        driver.submit(0, Buf.in(driver.alloc(4), 4));
        driver.kick(0);
        assertEquals(INT_USED, driver.acknowledge());
        assertEquals(2, driver.availEvent(0));
        driver.setUsedEvent(0, 5);
        driver.submit(0, Buf.in(driver.alloc(4), 4));
        driver.kick(0);
        assertEquals(0, driver.read(INTERRUPT_STATUS));
    }

    @Test
    void noInterruptFlagRespectedWithoutEventIdx() {
        driver.start(VERSION_1, 8);
        driver.setAvailFlags(0, 1);
        driver.submit(0, Buf.in(driver.alloc(4), 4));
        driver.kick(0);
        assertNotNull(driver.poll(0));
        assertEquals(0, driver.read(INTERRUPT_STATUS));
        assertFalse(irq.level());
        driver.setAvailFlags(0, 0);
        driver.submit(0, Buf.in(driver.alloc(4), 4));
        driver.kick(0);
        assertEquals(INT_USED, driver.read(INTERRUPT_STATUS));
        assertTrue(irq.level());
    }

    @Test
    void malformedChainGivesNeedsResetAndConfigInterruptThenResetRecovers() {
        driver.start(VERSION_1, 8);
        int head = driver.takeDescriptors(0, 2);
        driver.desc(driver.descTable(0), head, driver.alloc(4), 4, F_WRITE | F_NEXT, head + 1);
        driver.desc(driver.descTable(0), head + 1, driver.alloc(4), 4, F_WRITE | F_NEXT, head); // loop
        driver.publish(0, head);
        driver.kick(0);
        assertTrue(driver.needsReset());
        assertEquals(INT_CONFIG, driver.read(INTERRUPT_STATUS) & INT_CONFIG);
        assertTrue(mmio.lastError().contains("loops"), mmio.lastError());
        driver.start(VERSION_1, 8);
        driver.submit(0, Buf.in(driver.alloc(4), 4));
        driver.kick(0);
        assertEquals(new Used(0, 4), driver.poll(0));
    }

    @Test
    void queueOutsideRamOrMisalignedIsRefused() {
        assertTrue(driver.negotiate(VERSION_1));
        driver.setupQueue(0, 8, RAM + 16 * 1024 * 1024 - 64, RAM, RAM + 4096);
        assertTrue(driver.needsReset(), "descriptor table past the end of RAM");
        assertTrue(driver.negotiate(VERSION_1));
        driver.setupQueue(0, 8, RAM + 8, RAM + 4096, RAM + 8192);
        assertTrue(driver.needsReset(), "descriptor table not 16-byte aligned");
        assertTrue(driver.negotiate(VERSION_1));
        driver.setupQueue(0, 6, RAM, RAM + 4096, RAM + 8192);
        assertTrue(driver.needsReset(), "queue size not a power of two");
    }
}
