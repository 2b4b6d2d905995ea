package dev.visor.devices.syscon;

import dev.visor.machine.state.StateReader;
import dev.visor.machine.state.StateWriter;
import dev.visor.machine.state.Stateful;
import dev.visor.machine.MmioDevice;

import java.util.Objects;

/**
 * QEMU's test finisher ({@code sifive,test0}/{@code sifive,test1}, used by the {@code syscon-poweroff}
 * and {@code syscon-reboot} device tree nodes). A write at offset 0 of 16 or more bits is decoded as
 * {@code status | code << 16} on its low 32 bits:
 * <ul>
 *   <li>{@code 0x5555}: power off with exit status 0 ({@link PowerListener#powerOff}(0))</li>
 *   <li>{@code 0x3333}: power off with exit status {@code code} (a failure report)</li>
 *   <li>{@code 0x7777}: reboot ({@link PowerListener#reset()})</li>
 * </ul>
 * Other values, offsets and sizes are ignored; everything reads 0. Stateless, hence thread-safe; the
 * listener is called without any lock held.
 */
public final class TestSyscon implements MmioDevice, Stateful {
    public static final int FAIL = 0x3333, PASS = 0x5555, RESET = 0x7777;

    private final PowerListener listener;

    public TestSyscon(PowerListener listener) {
        this.listener = Objects.requireNonNull(listener, "listener");
    }

    @Override
    public long read(long offset, int size) {
        return 0;
    }

    @Override
    public void write(long offset, int size, long value) {
        if (offset != 0 || size < 2) return; // QEMU accepts 2- and 4-byte accesses
        int status = (int) value & 0xFFFF;
        int code = size == 2 ? 0 : (int) (value >>> 16) & 0xFFFF;
        switch (status) {
            case PASS -> listener.powerOff(0);
            case FAIL -> listener.powerOff(code);
            case RESET -> listener.reset();
            default -> { }
        }
    }

    // ---- state: none (a write acts at once); the record exists so a restore finds every part ----

    @Override public String stateId() { return "syscon"; }

    @Override public void saveState(StateWriter out) { }

    @Override public void restoreState(StateReader in) { }
}
