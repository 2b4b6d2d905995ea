package dev.visor.devices.riscv;

import dev.visor.machine.InterruptPins;

import java.util.ArrayList;
import java.util.List;

/** A fake hart: remembers pin levels, the last timer compare, and every call in order. */
final class RecordingPins implements InterruptPins {
    final boolean[] pending = new boolean[64];
    long timerCompare = Long.MIN_VALUE;
    final List<String> calls = new ArrayList<>();

    @Override
    public synchronized void setPending(int bit, boolean level) {
        pending[bit] = level;
        calls.add("pending " + bit + "=" + level);
    }

    @Override
    public synchronized void setTimerCompare(long ticks) {
        timerCompare = ticks;
        calls.add("compare " + ticks);
    }
}
