package dev.visor.devices.uart;

import dev.visor.machine.state.StateException;
import dev.visor.machine.state.StateReader;
import dev.visor.machine.state.StateWriter;
import dev.visor.machine.state.Stateful;
import dev.visor.machine.IrqLine;
import dev.visor.machine.MmioDevice;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Objects;

/**
 * An ns16550a UART as on QEMU's {@code virt} board: eight byte-wide registers at offsets 0..7
 * ({@code reg-shift = 0}). Wider accesses are accepted and act on the low byte; offsets 8 and up
 * read as zero and ignore writes.
 *
 * <p>Transmit is instantaneous: each byte written to THR goes straight to the {@link OutputStream}
 * given at construction (not flushed per byte; the VMM calls {@link #flush()}), so LSR.THRE and
 * LSR.TEMT always read as set. Receive: the host side calls {@link #receive} from any thread. The
 * guest-visible FIFO is 16 bytes deep, but behind it sits a host-side buffer (4 KiB by default)
 * that applies backpressure: {@code receive} returns how many bytes it accepted, and never more than
 * fit. Since nothing is ever dropped, no overrun occurs.
 *
 * <p>Interrupts, by priority: line status (IER bit 2: a break from {@link #sendBreak()}), received
 * data available (IER bit 0: whenever at least one byte waits, trigger levels are not modelled, so
 * no character-timeout interrupt is needed), and THR empty (IER bit 1). The modem status interrupt
 * never fires because the modem lines never change. The IRQ line is driven high while IIR shows an
 * interrupt.
 *
 * <p>Thread-safe: every register access and host call takes one lock. The IRQ line is driven and
 * the output written while holding it, so that levels and bytes from different vCPUs cannot be
 * reordered; neither may call back into this UART.
 */
public final class Uart16550 implements MmioDevice, Stateful {
    /** Depth of the FIFO the guest can clear with FCR; the host buffer behind it is bigger. */
    public static final int FIFO_DEPTH = 16;
    public static final int DEFAULT_RX_BUFFER = 4096;

    // Register offsets (reg-shift 0).
    static final int RBR_THR_DLL = 0, IER_DLM = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

    // IER bits.
    static final int IER_RDI = 0x01, IER_THRI = 0x02, IER_RLSI = 0x04, IER_MSI = 0x08;
    // IIR values (low nibble); FIFO-enabled bits 0xC0 are or-ed in when FCR bit 0 is set.
    static final int IIR_NONE = 0x01, IIR_RLS = 0x06, IIR_RDA = 0x04, IIR_THRE = 0x02, IIR_FIFO = 0xC0;
    // FCR bits.
    static final int FCR_ENABLE = 0x01, FCR_CLEAR_RX = 0x02;
    // LCR / MCR bits.
    static final int LCR_DLAB = 0x80, MCR_LOOP = 0x10;
    // LSR bits.
    static final int LSR_DR = 0x01, LSR_OE = 0x02, LSR_BI = 0x10, LSR_THRE = 0x20, LSR_TEMT = 0x40;
    static final int LSR_ERRORS = 0x1E;
    // MSR: with no modem attached, carrier, data set ready and clear to send read as asserted (as QEMU).
    static final int MSR_IDLE = 0xB0;

    private final Object lock = new Object();
    private final OutputStream out;
    private final IrqLine irq;

    /** Receive ring: the first {@link #FIFO_DEPTH} bytes are "in the FIFO", the rest wait host-side. */
    private final byte[] rx;
    private int rxHead, rxCount;
    /**
     * Host input becomes visible to the guest once its driver first enables the receive interrupt. Until then
     * Linux's 8250 driver probes and resets the port and reads RBR to clear it, which would swallow the first
     * bytes of input piped in before the guest was ready; a virtual line can simply hold them back.
     */
    private boolean rxOpen;

    private int ier, fcr, lcr, mcr, scr, dll, dlm;
    /** Error bits of LSR (overrun, break...), cleared by reading LSR. */
    private int lsrErrors;
    /** THR-empty interrupt pending: set when a transmission completes or THRI is enabled while empty. */
    private boolean thrPending;
    private boolean irqLevel;

    private volatile Runnable rxSpaceListener;

    /** A UART with a {@value #DEFAULT_RX_BUFFER}-byte host-side receive buffer. */
    public Uart16550(OutputStream out, IrqLine irq) {
        this(out, irq, DEFAULT_RX_BUFFER);
    }

    /**
     * @param out receives every transmitted byte; written under the UART's lock, never flushed here
     * @param irq the interrupt line, driven on every level change
     * @param rxBufferSize host-side receive buffer size, at least {@link #FIFO_DEPTH}
     */
    public Uart16550(OutputStream out, IrqLine irq, int rxBufferSize) {
        if (rxBufferSize < FIFO_DEPTH) throw new IllegalArgumentException("rx buffer below FIFO depth: " + rxBufferSize);
        this.out = Objects.requireNonNull(out, "out");
        this.irq = Objects.requireNonNull(irq, "irq");
        this.rx = new byte[rxBufferSize];
        synchronized (lock) {
            resetLocked();
        }
    }

    /** Back to power-on state (machine reset): registers reset, pending input dropped, IRQ lowered. */
    public void reset() {
        synchronized (lock) {
            resetLocked();
            updateIrq();
        }
    }

    private void resetLocked() {
        ier = 0; fcr = 0; lcr = 0; scr = 0; dll = 0; dlm = 0;
        mcr = 0x08; // OUT2 set, as QEMU
        lsrErrors = 0;
        thrPending = false;
        rxHead = 0; rxCount = 0;
        rxOpen = false;
    }

    // ---- host side ----

    /**
     * Queues input from the host, from any thread.
     *
     * @return how many bytes of {@code b[off..off+len)} were accepted (a prefix); the rest did not fit
     */
    public int receive(byte[] b, int off, int len) {
        Objects.checkFromIndexSize(off, len, b.length);
        synchronized (lock) {
            int n = Math.min(len, rx.length - rxCount);
            for (int i = 0; i < n; i++) push(b[off + i]);
            if (n > 0) updateIrq();
            return n;
        }
    }

    /** Bytes {@link #receive} would accept right now. */
    public int freeSpace() {
        synchronized (lock) {
            return rx.length - rxCount;
        }
    }

    /**
     * Sets a callback run (outside the lock, on the reading vCPU's thread) whenever the guest reads a byte
     * out of a full receive buffer, so a host reader blocked on backpressure can resume. Must not block.
     */
    public void setRxSpaceListener(Runnable listener) {
        this.rxSpaceListener = listener;
    }

    /**
     * Signals a break condition from the host (as a real line does: a zero byte plus LSR.BI), which Linux
     * uses for magic SysRq. Raises the line status interrupt if enabled.
     */
    public void sendBreak() {
        synchronized (lock) {
            if (rxCount < rx.length) push((byte) 0);
            lsrErrors |= LSR_BI;
            updateIrq();
        }
    }

    /** Flushes the output stream. Called by the VMM (not per byte). */
    public void flush() throws IOException {
        synchronized (lock) {
            out.flush();
        }
    }

    // ---- guest side ----

    @Override
    public long read(long offset, int size) {
        if (offset < 0 || offset > SCR) return 0;
        boolean notify;
        int v;
        synchronized (lock) {
            boolean wasFull = rxCount == rx.length;
            v = readReg((int) offset);
            notify = wasFull && rxCount < rx.length;
        }
        if (notify) {
            Runnable l = rxSpaceListener;
            if (l != null) l.run();
        }
        return v & 0xFF;
    }

    @Override
    public void write(long offset, int size, long value) {
        if (offset < 0 || offset > SCR) return;
        synchronized (lock) {
            writeReg((int) offset, (int) value & 0xFF);
        }
    }

    private int readReg(int reg) {
        switch (reg) {
            case RBR_THR_DLL -> {
                if ((lcr & LCR_DLAB) != 0) return dll;
                if (rxCount == 0 || !rxOpen) return 0;
                int b = rx[rxHead] & 0xFF;
                rxHead = (rxHead + 1) % rx.length;
                rxCount--;
                updateIrq();
                return b;
            }
            case IER_DLM -> { return (lcr & LCR_DLAB) != 0 ? dlm : ier; }
            case IIR_FCR -> {
                int iir = currentIir();
                // Reading IIR acknowledges a THR-empty interrupt when it is the one shown.
                if ((iir & 0x0F) == IIR_THRE) {
                    thrPending = false;
                    updateIrq();
                }
                return iir;
            }
            case LCR -> { return lcr; }
            case MCR -> { return mcr; }
            case LSR -> {
                int lsr = LSR_THRE | LSR_TEMT | lsrErrors | (rxCount > 0 && rxOpen ? LSR_DR : 0);
                if (lsrErrors != 0) {
                    lsrErrors = 0; // error bits clear on read
                    updateIrq();
                }
                return lsr;
            }
            case MSR -> { return currentMsr(); }
            case SCR -> { return scr; }
            default -> { return 0; }
        }
    }

    private void writeReg(int reg, int v) {
        switch (reg) {
            case RBR_THR_DLL -> {
                if ((lcr & LCR_DLAB) != 0) { dll = v; return; }
                transmit(v);
                // Writing THR clears a pending THRE interrupt; transmission is instant, so it is
                // complete at once and the THR is empty again, which raises it anew.
                thrPending = true;
                updateIrq();
            }
            case IER_DLM -> {
                if ((lcr & LCR_DLAB) != 0) { dlm = v; return; }
                int changed = (ier ^ v) & 0x0F;
                ier = v & 0x0F;
                if ((ier & IER_RDI) != 0) rxOpen = true;
                // Enabling THRI while THR is empty (always, here) raises THRE; disabling forgets it (as QEMU).
                if ((changed & IER_THRI) != 0) thrPending = (ier & IER_THRI) != 0;
                updateIrq();
            }
            case IIR_FCR -> {
                // Changing the FIFO enable resets the FIFOs on real parts; bit 1 clears the RX FIFO.
                if (((fcr ^ v) & FCR_ENABLE) != 0 || (v & FCR_CLEAR_RX) != 0) clearRxFifo();
                fcr = v & 0xC9; // enable, DMA mode, trigger level; clear bits are self-clearing
                updateIrq();
            }
            case LCR -> lcr = v;
            case MCR -> mcr = v & 0x1F;
            case SCR -> scr = v;
            default -> { } // LSR and MSR are read-only
        }
    }

    /** Drops what the guest-visible FIFO holds (at most 16 bytes); the host-side backlog stays. */
    /**
     * FIFO reset. Bytes from the host are kept: on a real line they would still be on the wire, and Linux's
     * 8250 driver resets the FIFOs when it starts the port, which would otherwise eat input typed (or piped)
     * before the guest opened its console.
     */
    private void clearRxFifo() {
        lsrErrors &= ~LSR_OE;
    }

    private void transmit(int b) {
        if ((mcr & MCR_LOOP) != 0) {
            // Loopback: the byte comes back on the receive side instead of leaving.
            if (rxCount < rx.length) push((byte) b);
            return;
        }
        try {
            out.write(b);
        } catch (IOException e) {
            // The host side went away; the guest must not notice. The byte is lost.
        }
    }

    private void push(byte b) {
        rx[(rxHead + rxCount) % rx.length] = b;
        rxCount++;
    }

    private int currentMsr() {
        if ((mcr & MCR_LOOP) == 0) return MSR_IDLE;
        // Loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
        return ((mcr & 0x01) << 5) | ((mcr & 0x02) << 3) | ((mcr & 0x04) << 4) | ((mcr & 0x08) << 4);
    }

    private int currentIir() {
        int id;
        if ((ier & IER_RLSI) != 0 && (lsrErrors & LSR_ERRORS) != 0) id = IIR_RLS;
        else if ((ier & IER_RDI) != 0 && rxCount > 0 && rxOpen) id = IIR_RDA;
        else if ((ier & IER_THRI) != 0 && thrPending) id = IIR_THRE;
        else id = IIR_NONE;
        return id | ((fcr & FCR_ENABLE) != 0 ? IIR_FIFO : 0);
    }

    private void updateIrq() {
        boolean level = (currentIir() & IIR_NONE) == 0;
        if (level != irqLevel) {
            irqLevel = level;
            irq.set(level);
        }
    }

    // ---- state: the registers and the bytes received but not yet read ----

    @Override public String stateId() { return "uart0"; }

    @Override
    public void saveState(StateWriter out) {
        synchronized (lock) {
            out.putInt("ier", ier).putInt("fcr", fcr).putInt("lcr", lcr).putInt("mcr", mcr).putInt("scr", scr)
                    .putInt("dll", dll).putInt("dlm", dlm).putInt("lsrErrors", lsrErrors)
                    .putBool("thrPending", thrPending).putBool("rxOpen", rxOpen);
            byte[] pending = new byte[rxCount];
            for (int i = 0; i < rxCount; i++) pending[i] = rx[(rxHead + i) % rx.length];
            out.putBytes("rx", pending);
        }
    }

    /** Sets the registers and the receive buffer (bytes past its size are dropped) and drives the IRQ line. */
    @Override
    public void restoreState(StateReader in) throws StateException {
        byte[] pending = in.getBytes("rx", new byte[0]);
        synchronized (lock) {
            ier = in.getInt("ier", 0) & 0x0F;
            fcr = in.getInt("fcr", 0) & 0xC9;
            lcr = in.getInt("lcr", 0) & 0xFF;
            mcr = in.getInt("mcr", 0x08) & 0x1F;
            scr = in.getInt("scr", 0) & 0xFF;
            dll = in.getInt("dll", 0) & 0xFF;
            dlm = in.getInt("dlm", 0) & 0xFF;
            lsrErrors = in.getInt("lsrErrors", 0) & LSR_ERRORS;
            thrPending = in.getBool("thrPending", false);
            rxOpen = in.getBool("rxOpen", false);
            rxHead = 0;
            rxCount = Math.min(pending.length, rx.length);
            System.arraycopy(pending, 0, rx, 0, rxCount);
            irqLevel = (currentIir() & IIR_NONE) == 0;
            irq.set(irqLevel);
        }
    }
}
