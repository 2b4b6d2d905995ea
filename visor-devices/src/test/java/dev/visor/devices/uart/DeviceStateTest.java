package dev.visor.devices.uart;

import dev.visor.devices.rtc.GoldfishRtc;
import dev.visor.devices.virtio.RecordingIrq;
import dev.visor.machine.state.StateException;
import dev.visor.machine.state.StateRoundTrip;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** UART and RTC through save and restore. */
class DeviceStateTest {
    @Test
    void uartKeepsRegistersAndUnreadInput() throws StateException {
        RecordingIrq irq = new RecordingIrq();
        Uart16550 a = new Uart16550(new ByteArrayOutputStream(), irq);
        a.write(Uart16550.LCR, 1, 0x83);
        a.write(Uart16550.RBR_THR_DLL, 1, 0x0c);
        a.write(Uart16550.LCR, 1, 0x03);
        a.write(Uart16550.IER_DLM, 1, Uart16550.IER_RDI);
        a.write(Uart16550.SCR, 1, 0x5a);
        byte[] in = "hello".getBytes(StandardCharsets.US_ASCII);
        a.receive(in, 0, in.length);
        a.read(Uart16550.RBR_THR_DLL, 1); // 'h' read before the save
        assertTrue(irq.level());

        RecordingIrq irq2 = new RecordingIrq();
        Uart16550 b = new Uart16550(new ByteArrayOutputStream(), irq2);
        StateRoundTrip.copy(a, b);
        StateRoundTrip.assertSameState(a, b);
        assertTrue(irq2.level(), "data waiting and RDI enabled: the line is high after restore");
        assertEquals(0x5a, b.read(Uart16550.SCR, 1));
        StringBuilder s = new StringBuilder();
        while ((b.read(Uart16550.LSR, 1) & Uart16550.LSR_DR) != 0) s.append((char) b.read(Uart16550.RBR_THR_DLL, 1));
        assertEquals("ello", s.toString());
        assertFalse(irq2.level());
    }

    @Test
    void rtcKeepsOffsetAndInterruptState() throws StateException {
        long[] wall = {1_000_000_000_000L};
        RecordingIrq irq = new RecordingIrq();
        GoldfishRtc a = new GoldfishRtc(irq, () -> wall[0]);
        a.write(GoldfishRtc.TIME_HIGH, 4, 0x10);        // the guest sets its clock
        a.write(GoldfishRtc.IRQ_ENABLED, 4, 1);
        a.write(GoldfishRtc.ALARM_HIGH, 4, 0);
        a.write(GoldfishRtc.ALARM_LOW, 4, 1);            // in the past: fires at once
        assertTrue(irq.level());
        RecordingIrq irq2 = new RecordingIrq();
        GoldfishRtc b = new GoldfishRtc(irq2, () -> wall[0]);
        StateRoundTrip.copy(a, b);
        StateRoundTrip.assertSameState(a, b);
        assertEquals(a.nanos(), b.nanos());
        assertTrue(irq2.level());
        a.close();
        b.close();
    }
}
