package dev.visor.engine.riscv;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * Translates one hart's hot blocks on a background thread, so the vCPU keeps interpreting while a
 * block is turned into a class (a few hundred microseconds each, thousands of them while Linux boots)
 * instead of waiting for it. The hart posts guest-RAM offsets with {@link #request} and collects
 * finished blocks with {@link #poll} between its instruction blocks.
 */
final class TranslationWorker {
    /** Requests beyond this are dropped: the target stays hot and is asked for again later. */
    private static final int MAX_PENDING = 4096;

    private final Hart hart;
    private final LinkedBlockingQueue<Long> requests = new LinkedBlockingQueue<>(MAX_PENDING);
    private final ConcurrentLinkedQueue<Block> finished = new ConcurrentLinkedQueue<>();
    private final Thread thread;
    /** Time spent translating, for statistics. */
    volatile long nanos;

    TranslationWorker(Hart hart) {
        this.hart = hart;
        thread = Thread.ofPlatform().daemon().name("translate-" + hart.id).start(this::loop);
    }

    /** Asks for the block at guest-RAM offset {@code off} (any thread; never blocks). */
    void request(long off) {
        requests.offer(off);
    }

    /** A finished block, or null. Call on the hart's thread. */
    Block poll() {
        return finished.poll();
    }

    void stop() {
        thread.interrupt();
    }

    private void loop() {
        try {
            while (true) {
                long off = requests.take();
                long t0 = System.nanoTime();
                Block b = BlockTranslator.translate(hart.ram, hart.ramSize, hart.ramBase, off);
                nanos += System.nanoTime() - t0;
                if (b != null) {
                    finished.add(b);
                    hart.kick();
                }
            }
        } catch (InterruptedException e) {
            // the hart stopped
        }
    }
}
