package dev.visor.devices.uart;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

class Uart16550Test {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final AtomicBoolean irq = new AtomicBoolean();
    private Uart16550 uart;

    @BeforeEach
    void setUp() {
        uart = new Uart16550(out, irq::set);
    }

    private int rd(int reg) { return (int) uart.read(reg, 1); }
    private void wr(int reg, int v) { uart.write(reg, 1, v); }

    /** What Linux's driver does when it opens the port: enable the RX interrupt (which opens the input gate). */
    private static void openRx(Uart16550 u) {
        u.write(1, 1, 0x01);
        u.write(1, 1, 0x00);
    }

    @Test
    void hostInputWaitsUntilTheGuestEnablesReceiveInterrupts() {
        uart.receive(new byte[] {'a', 'b'}, 0, 2);
        assertEquals(0x60, rd(5), "no data ready before the driver opened the port");
        assertEquals(0, rd(0), "a probe's RBR read does not consume input");
        openRx(uart);
        assertEquals(0x61, rd(5));
        assertEquals('a', rd(0));
        assertEquals('b', rd(0));
    }

    @Test
    void resetState() {
        assertEquals(0x01, rd(2), "IIR: no interrupt, FIFOs off");
        assertEquals(0x60, rd(5), "LSR: THRE|TEMT");
        assertEquals(0xB0, rd(6), "MSR: DCD|DSR|CTS");
        assertFalse(irq.get());
    }

    @Test
    void transmitGoesToStream() {
        for (byte b : "hi\n".getBytes(StandardCharsets.US_ASCII)) wr(0, b);
        assertEquals("hi\n", out.toString(StandardCharsets.US_ASCII));
        assertEquals(0x60, rd(5) & 0x60, "THR empty and transmitter idle after writes");
        assertFalse(irq.get(), "THRE interrupt not enabled");
    }

    @Test
    void wideAccessUsesLowByte() {
        uart.write(0, 4, 0x1234_5641L);
        assertEquals("A", out.toString(StandardCharsets.US_ASCII));
        uart.write(7, 4, 0xAB5A);
        assertEquals(0x5A, uart.read(7, 4));
        assertEquals(0, uart.read(8, 1), "beyond register 7 reads 0");
        uart.write(0x20, 1, 1); // ignored, no crash
    }

    @Test
    void receiveRaisesRdaAndDrains() {
        wr(1, 0x01); // IER: RX data
        assertFalse(irq.get());
        assertEquals(3, uart.receive("abc".getBytes(StandardCharsets.US_ASCII), 0, 3));
        assertTrue(irq.get());
        assertEquals(0x04, rd(2));
        assertEquals(0x61, rd(5), "DR set");
        assertEquals('a', rd(0));
        assertEquals('b', rd(0));
        assertTrue(irq.get());
        assertEquals('c', rd(0));
        assertFalse(irq.get(), "empty FIFO lowers the line");
        assertEquals(0x01, rd(2));
        assertEquals(0x60, rd(5));
        assertEquals(0, rd(0), "empty RBR reads 0");
    }

    @Test
    void receiveBackpressure() {
        Uart16550 small = new Uart16550(out, irq::set, 16);
        byte[] data = new byte[20];
        for (int i = 0; i < data.length; i++) data[i] = (byte) i;
        openRx(small);
        assertEquals(16, small.receive(data, 0, 20));
        assertEquals(0, small.freeSpace());
        assertEquals(0, small.receive(data, 16, 4));
        AtomicInteger notified = new AtomicInteger();
        small.setRxSpaceListener(notified::incrementAndGet);
        assertEquals(0, small.read(0, 1));
        assertEquals(1, notified.get(), "reading from a full buffer notifies the host");
        assertEquals(1, small.read(0, 1));
        assertEquals(1, notified.get());
        assertEquals(2, small.receive(data, 16, 4));
        for (int i = 2; i < 18; i++) assertEquals(i, small.read(0, 1));
    }

    @Test
    void thrEmptySemantics() {
        wr(1, 0x02); // enable THRI while THR empty: pending at once
        assertTrue(irq.get());
        assertEquals(0x02, rd(2), "IIR shows THRE");
        assertFalse(irq.get(), "reading IIR acknowledged THRE");
        assertEquals(0x01, rd(2));
        wr(0, 'x'); // transmission completes at once: THRE pending again
        assertTrue(irq.get());
        assertEquals(0x02, rd(2));
        assertFalse(irq.get());
        // Toggling IER.THRI off and on re-raises it.
        wr(1, 0x00);
        wr(1, 0x02);
        assertTrue(irq.get());
        wr(1, 0x00);
        assertFalse(irq.get(), "disabling THRI lowers the line");
    }

    @Test
    void priorities() {
        wr(2, 0x01); // FIFO on
        wr(1, 0x07); // RX, THRE, line status
        assertEquals(0xC2, rd(2), "THRE alone (read acknowledges it)");
        assertEquals(0xC1, rd(2));
        wr(0, 'x');
        uart.receive(new byte[] {'y'}, 0, 1);
        assertEquals(0xC4, rd(2), "RX data beats THRE");
        uart.sendBreak();
        assertEquals(0xC6, rd(2), "line status beats RX data");
        assertEquals(0x71, rd(5), "LSR: BI, THRE, TEMT, DR");
        assertEquals(0xC4, rd(2), "reading LSR cleared the break");
        assertEquals('y', rd(0));
        assertEquals(0, rd(0), "break byte");
        assertEquals(0xC2, rd(2), "THRE from the earlier write still pending, RX data drained");
        assertEquals(0xC1, rd(2));
        assertFalse(irq.get());
    }

    @Test
    void fcrResetKeepsHostInput() {
        byte[] data = new byte[40];
        for (int i = 0; i < data.length; i++) data[i] = (byte) i;
        openRx(uart);
        uart.receive(data, 0, 40);
        wr(2, 0x01); // enabling FIFOs resets them, but input from the host is never lost
        assertEquals(0, rd(0));
        wr(2, 0x03); // clear RX FIFO again
        assertEquals(1, rd(0));
        assertEquals(0xC1, rd(2), "FIFO bits shown while enabled");
        wr(2, 0x00);
        assertEquals(0x01, rd(2));
    }

    @Test
    void dlabSwitching() {
        wr(1, 0x01);
        wr(3, 0x83); // DLAB, 8N1
        wr(0, 0x0C); // DLL, not transmitted
        wr(1, 0x00); // DLM, IER untouched
        assertEquals(0x0C, rd(0));
        assertEquals(0x00, rd(1));
        assertEquals(0, out.size());
        uart.receive(new byte[] {'q'}, 0, 1);
        assertEquals(0x0C, rd(0), "DLAB set: offset 0 is DLL, RBR not consumed");
        wr(3, 0x03);
        assertEquals(0x01, rd(1), "IER kept its value");
        assertEquals('q', rd(0));
        assertEquals(0x03, rd(3));
        wr(7, 0x5A);
        assertEquals(0x5A, rd(7));
    }

    @Test
    void loopbackDoesNotCrash() {
        openRx(uart);
        wr(4, 0x1B); // LOOP | OUT2 | RTS | DTR
        assertEquals(0x1B, rd(4));
        assertEquals(0xB0, rd(6));
        wr(0, 'z');
        assertEquals(0, out.size(), "looped back, not sent");
        assertEquals('z', rd(0));
        wr(4, 0x08);
        wr(0, 'w');
        assertEquals("w", out.toString(StandardCharsets.US_ASCII));
    }

    @Test
    void resetLowersLine() {
        wr(1, 0x01);
        uart.receive(new byte[] {1}, 0, 1);
        assertTrue(irq.get());
        uart.reset();
        assertFalse(irq.get());
        assertEquals(0x60, rd(5));
    }

    @Test
    void concurrentHostInputKeepsOrder() throws Exception {
        int total = 200_000;
        openRx(uart);
        Thread producer = new Thread(() -> {
            byte[] chunk = new byte[100];
            int sent = 0;
            while (sent < total) {
                int n = Math.min(chunk.length, total - sent);
                for (int i = 0; i < n; i++) chunk[i] = (byte) (sent + i);
                int off = 0;
                while (off < n) {
                    int k = uart.receive(chunk, off, n - off);
                    off += k;
                    if (k == 0) Thread.onSpinWait();
                }
                sent += n;
            }
        });
        producer.start();
        for (int got = 0; got < total; ) {
            if ((rd(5) & 0x01) != 0) {
                assertEquals(got & 0xFF, rd(0), "byte " + got);
                got++;
            }
        }
        producer.join();
        assertEquals(0x60, rd(5));
    }
}
