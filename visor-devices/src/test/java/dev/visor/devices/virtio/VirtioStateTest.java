package dev.visor.devices.virtio;

import dev.visor.devices.virtio.FakeDriver.Buf;
import dev.visor.devices.virtio.balloon.VirtioBalloon;
import dev.visor.devices.virtio.rng.VirtioRng;
import dev.visor.machine.GuestMemory;
import dev.visor.machine.state.StateException;
import dev.visor.machine.state.StateRoundTrip;
import org.junit.jupiter.api.Test;

import static dev.visor.devices.virtio.FakeDriver.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The virtio-mmio transport and devices through quiesce, save and restore into a second transport on the same RAM. */
class VirtioStateTest {
    static final long RAM = 0x8000_0000L;
    private final GuestMemory memory = new GuestMemory(RAM, 16 << 20);
    private final RecordingIrq irq = new RecordingIrq();
    private final VirtioMmio mmio = new VirtioMmio(memory, new VirtioRng(memory), irq);
    private final FakeDriver driver = new FakeDriver(memory, mmio, irq, RAM + 0x10_0000, 0x10_0000);

    @Test
    void quiescedDeviceLeavesTheQueueAloneUntilResumed() throws Exception {
        driver.start(VERSION_1, 8);
        driver.submit(0, Buf.in(driver.alloc(8), 8));
        driver.kick(0);
        driver.await(0);
        mmio.device().quiesce();
        driver.submit(0, Buf.in(driver.alloc(8), 8));
        driver.kick(0);
        Thread.sleep(50);
        assertEquals(0, driver.pendingUsed(0), "a quiesced device does not touch the rings");
        mmio.device().unquiesce();
        driver.await(0);
    }

    @Test
    void transportRoundTripContinuesTheQueue() throws Exception {
        driver.start(VERSION_1 | EVENT_IDX, 8);
        for (int i = 0; i < 3; i++) {
            driver.submit(0, Buf.in(driver.alloc(8), 8));
            driver.kick(0);
            driver.await(0);
        }
        mmio.device().quiesce();
        RecordingIrq irq2 = new RecordingIrq();
        VirtioMmio copy = new VirtioMmio(memory, new VirtioRng(memory), irq2);
        StateRoundTrip.copy(mmio, copy);
        StateRoundTrip.copy(mmio.device(), copy.device());
        StateRoundTrip.assertSameState(mmio, copy);
        assertEquals(mmio.read(STATUS, 4), copy.read(STATUS, 4));
        assertEquals(irq.level(), irq2.level());

        // the driver's next request, noticed by the restored device (the old one stays quiesced)
        driver.submit(0, Buf.in(driver.alloc(8), 8));
        copy.device().unquiesce();
        copy.write(QUEUE_NOTIFY, 4, 0);
        FakeDriver.Used u = driver.await(0);
        assertEquals(8, u.len());
        assertEquals(4, driver.usedIdx(0), "the used index went on from 3, not from 0");
        assertTrue(irq2.level());
    }

    @Test
    void restoreRefusesAnotherDeviceOrRingsOutsideRam() {
        driver.start(VERSION_1, 8);
        VirtioMmio other = new VirtioMmio(memory, new VirtioBalloon(memory), new RecordingIrq());
        assertThrows(StateException.class, () -> StateRoundTrip.copy(mmio, other));
        GuestMemory small = new GuestMemory(RAM, 1 << 20); // the rings at +1 MiB are outside it
        VirtioMmio tooSmall = new VirtioMmio(small, new VirtioRng(small), new RecordingIrq());
        StateException e = assertThrows(StateException.class, () -> StateRoundTrip.copy(mmio, tooSmall));
        assertTrue(e.getMessage().contains("outside guest RAM"), e.getMessage());
    }
}
