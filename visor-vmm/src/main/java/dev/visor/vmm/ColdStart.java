package dev.visor.vmm;

import dev.visor.machine.HostMemory;

/**
 * First-use costs of a fresh JVM, paid on a background thread while the process is still starting
 * (parsing its options, reading a snapshot's manifest), rather than on the path of the VM being built.
 *
 * <p>What costs: the CPU engine's static tables (50 ms, see HartGroup#initializeClasses), the native
 * calls' stubs ({@link HostMemory}'s mmap, open...: the FFM linker spins them on first use, 60 to
 * 100 ms measured on a cold JVM), and, before a restore, loading and first
 * runs of the state code and the board (a restore measured 130 to 170 ms from the call to a
 * running VM, 100 of it in such first uses, on a 512 MiB snapshot). The warm-up builds nothing the
 * VM keeps: a VM built meanwhile waits for whatever class the warm-up is initialising, as it would
 * have initialised it itself.
 *
 * <p>A destination waiting for a migration also gets the block translator JIT-compiled (see
 * TranslatorWarmUp): 1000 translations of made-up code, 0.8 s of one core at the JIT's priority.
 */
public final class ColdStart {
    private ColdStart() {}

    /** Translations of made-up code that get the translator JIT-compiled (see TranslatorWarmUp), and the most time they may take. */
    static final int WARM_UP_BLOCKS = 1000;
    static final long WARM_UP_MAX_MILLIS = 2000;

    /**
     * Starts the warm-up for a VM about to be booted, or restored from a snapshot or migration when
     * {@code restoring}; when {@code incoming} (a destination waiting for its VM) also the translator's.
     */
    public static void begin(boolean restoring, boolean incoming) {
        Thread.ofPlatform().daemon().name("visor-cold-start").start(() -> {
            dev.visor.engine.riscv.HartGroup.initializeClasses();
            HostMemory.warmUp();
            if (restoring) VmState.warmUp(1, 1);
            if (incoming) { // the process waits for the migration: time to get the translator compiled, at the JIT's priority
                JitPriority.lowerCurrentThread();
                dev.visor.engine.riscv.TranslatorWarmUp.run(WARM_UP_BLOCKS, WARM_UP_MAX_MILLIS);
            }
        });
    }
}
