package dev.visor.vmm;

import dev.visor.board.virt.BootException;
import dev.visor.board.virt.BootLoader;
import dev.visor.board.virt.VirtBoard;
import dev.visor.devices.syscon.PowerListener;
import dev.visor.engine.riscv.HartGroup;

import dev.visor.devices.virtio.VirtioMmio;
import dev.visor.machine.GuestMemory;
import dev.visor.machine.state.StateException;
import dev.visor.machine.state.StateTree;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * One running VM in this process: a {@link VirtBoard} built from a {@link VmSpec}, booted, and
 * watched until the guest powers off. Its serial console writes to the given stream and takes
 * input through {@link #consoleInput}.
 *
 * <pre>
 *   VirtualMachine vm = VirtualMachine.build(spec, System.out);   // VmConfigException on bad input
 *   vm.start();
 *   vm.consoleInput(bytes, 0, n);                                  // from any thread
 *   int status = vm.awaitExit();   // 0 after a guest poweroff; HTIF exit code for bare-metal tests
 *   vm.stop();                     // from any thread: ends the VM, awaitExit returns
 *   vm.quit();                     // the same after flushing the disks (control socket 'quit')
 * </pre>
 *
 * <p>State: {@link #pause} stops the vCPUs between instructions, quiesces the virtio devices (waiting
 * for requests being served) and stops the clock; then {@link #saveState} gives the device state,
 * and {@link #restore} builds a VM of the same shape from it and a copy of the RAM, paused, to be
 * {@link #resume resumed}.
 */
public final class VirtualMachine {
    /** Exit status when the VMM itself failed (sysexits' EX_SOFTWARE). */
    public static final int EXIT_INTERNAL_ERROR = 70;
    /** Exit status when stopped from the host (Ctrl-A x) rather than by the guest. */
    public static final int EXIT_STOPPED = 0;

    private final VirtBoard board;
    private final VirtioDevices devices;
    private volatile ControlServer control;
    private final ConsoleOutput console;
    private final CompletableFuture<Integer> exit = new CompletableFuture<>();
    private volatile String failure;
    /** What the VM is: replaced when a snapshot moves its disks onto overlays. */
    private volatile VmSpec spec;
    /** Between pause() and resume(); a restored VM starts paused. */
    private volatile boolean paused;
    /**
     * Wall-clock microseconds since the epoch at which the vCPUs last stopped for a pause, and at which
     * they were last let go again: the same host clock in every process, so a benchmark can time the
     * guest's pause across a migration between two processes (as QEMU's trace of vm_state_notify does).
     */
    private volatile long stoppedAtMicros, resumedAtMicros;
    /** The board's threads run (after start(), or from the restore on). */
    private volatile boolean started;
    /** For a VM built ahead of a migration's switch-over: the shape it was built from (see {@link #prebuildForSwitchOver}). */
    private byte[] prebuiltShape;

    /** @param ram the guest RAM to use (e.g. a snapshot's RAM file mapped), or null for fresh zeroed RAM */
    private VirtualMachine(VmSpec spec, OutputStream out, boolean boot, GuestMemory ram) throws VmConfigException {
        this(spec, out, boot, ram, null);
    }

    /**
     * @param laterDisks null to open the spec's disks now; else the disks as a migration's source has
     *                   them, which get placeholders of their sizes until {@link #completeSwitchOver}
     */
    private VirtualMachine(VmSpec spec, OutputStream out, boolean boot, GuestMemory ram, java.util.List<ShapeDisk> laterDisks)
            throws VmConfigException {
        this.spec = spec;
        console = new ConsoleOutput(out);
        PowerListener power = new PowerListener() {
            @Override public void powerOff(int code) { exit.complete(code); }
            // A reboot ends this VMM process, as QEMU with -no-reboot; the supervisor restarts it.
            @Override public void reset() { exit.complete(0); }
        };
        HartGroup.Listener engine = new HartGroup.Listener() {
            @Override public void htifExit(int code) { exit.complete(code); }
            @Override public void htifPutchar(int b) {
                try { console.write(b); } catch (IOException ignored) { }
            }
            @Override public void engineFailure(int hart, Throwable error) {
                failure = "internal error on vCPU " + hart + ": " + error;
                error.printStackTrace();
                exit.complete(EXIT_INTERNAL_ERROR);
            }
        };
        if (spec.cpus() < 1 || spec.cpus() > 64) throw new VmConfigException("--cpus must be between 1 and 64, not " + spec.cpus());
        if (spec.memoryBytes() < (16L << 20) || (spec.memoryBytes() & 0xfff) != 0) {
            throw new VmConfigException("--memory must be a multiple of 4 KiB and at least 16 MiB");
        }
        if (spec.memoryBytes() > (1L << 40)) throw new VmConfigException("--memory larger than 1 TiB is not supported");
        if (ram != null && ram.size() != spec.memoryBytes()) {
            throw new VmConfigException("the saved RAM is " + ram.size() + " bytes, the VM has " + spec.memoryBytes());
        }
        board = ram == null ? new VirtBoard(spec.cpus(), spec.memoryBytes(), console, power, engine)
                : new VirtBoard(spec.cpus(), ram, console, power, engine);
        try {
            devices = VirtioDevices.attach(board, spec.devices(), laterDisks);
        } catch (VmConfigException e) {
            board.stop();
            throw e;
        }
        if (boot) try {
            BootLoader.load(board, new BootLoader.BootFiles(spec.firmware(), spec.kernel(), spec.initrd(),
                    spec.append() == null ? VmSpec.DEFAULT_APPEND : spec.append(), "riscv,sv48"));
        } catch (BootException e) {
            board.stop();
            throw new VmConfigException(e.getMessage());
        }
    }

    public static VirtualMachine build(VmSpec spec, OutputStream console) throws VmConfigException {
        return withControl(new VirtualMachine(spec, console, true, null), spec);
    }

    /**
     * Builds a VM from saved device state and RAM, for {@code spec} (which must have the saved VM's
     * shape: cpus, memory, disks, network card kinds...; a difference is refused with one line).
     * The VM comes back paused, its threads started: {@link #resume} lets the guest go on. Network
     * cards whose MAC the spec leaves open get the saved one.
     *
     * @param state the bytes of {@link #saveState}
     * @param ram   the guest RAM as it was when the state was saved
     */
    public static VirtualMachine restore(VmSpec spec, byte[] state, RamSource ram, OutputStream console) throws VmConfigException {
        return restore(spec, state, null, ram, console);
    }

    /**
     * As {@link #restore(VmSpec, byte[], RamSource, OutputStream)} on RAM that already holds the
     * saved contents (a snapshot's RAM file mapped copy-on-write): nothing is copied.
     */
    public static VirtualMachine restore(VmSpec spec, byte[] state, GuestMemory ram, OutputStream console) throws VmConfigException {
        return restore(spec, state, ram, null, console, false);
    }

    /**
     * A migration's switch-over: as {@link #restore(VmSpec, byte[], GuestMemory, OutputStream)}, but
     * without the control socket, whose opening (7 to 12 ms measured) would lengthen the guest's
     * downtime; the destination calls {@link #openControl} once the guest runs. With {@code disksCopied} (a storage migration) the
     * writable disks of {@code spec} hold copies of the source's, so their paths and formats may
     * differ from the saved ones ({@link #checkShape(VmSpec, byte[], boolean)}).
     */
    public static VirtualMachine restoreForSwitchOver(VmSpec spec, byte[] state, GuestMemory ram, OutputStream console,
                                                      boolean disksCopied) throws VmConfigException {
        return restoreBoard(spec, state, ram, null, console, disksCopied);
    }

    /**
     * A migration's destination VM, built while the RAM still streams in, so that the switch-over only
     * opens the disks and sets the state ({@link #completeSwitchOver}): building the board and devices
     * and starting their threads (5 to 12 ms measured) leaves the guest's downtime. Built from the
     * source's {@code shape} (MACs, disk sizes); the disks are placeholders, because the source still
     * writes them (a qcow2 opened now would cache metadata the source then changes). The vCPU threads
     * start, paused; {@link #discardPrebuilt} throws the VM away if the migration fails.
     */
    public static VirtualMachine prebuildForSwitchOver(VmSpec spec, byte[] shape, GuestMemory ram, OutputStream console,
                                                       boolean disksCopied) throws VmConfigException {
        Saved saved = Saved.of(spec, shape, disksCopied);
        VmSpec shaped = saved.spec();
        java.util.List<ShapeDisk> disks;
        try {
            disks = VmState.disks(saved.tree());
        } catch (StateException e) {
            throw new VmConfigException("cannot restore: " + e.getMessage());
        }
        for (ShapeDisk d : disks) {
            if (d.size() < 0) throw new VmConfigException("the source did not say the size of disk " + d.path());
        }
        // What outlives a discarded prebuild, or acts before the switch-over, keeps the old order: a
        // console-port file is truncated when opened, and switch and tap cards would queue the frames
        // of the whole pre-copy for the guest.
        if (shaped.devices().consolePort() != null) throw new VmConfigException("a console-port file is opened at the switch-over");
        for (NetSpec n : shaped.devices().nets()) {
            if (n.kind() != NetSpec.Kind.USER) throw new VmConfigException(n.kind().name().toLowerCase() + " cards join their network at the switch-over");
        }
        VirtualMachine vm = new VirtualMachine(shaped, console, false, ram, disks);
        vm.prebuiltShape = shape;
        // The threads too: on a busy host a thread's start waits milliseconds for the new thread to be
        // scheduled. They wait at their first pause point until the resume after the state is set.
        vm.board.clock.pause();
        vm.board.harts.pause();
        vm.paused = true;
        vm.started = true;
        vm.board.start();
        return vm;
    }

    /**
     * The switch-over on a VM from {@link #prebuildForSwitchOver}: opens the disks of {@code spec} in
     * place of the placeholders and sets {@code state}; the guest stays paused (as after
     * {@link #restoreForSwitchOver}) until {@link #resume}. Refused (VmConfigException, the guest not
     * started, for {@link #discardPrebuilt}) when the state's shape is not the one built for (the
     * source resized a disk meanwhile) or a disk cannot be opened.
     */
    public synchronized void completeSwitchOver(VmSpec spec, byte[] state, boolean disksCopied) throws VmConfigException {
        if (prebuiltShape == null) throw new IllegalStateException("not a VM built ahead of a switch-over, or it has its state already");
        Saved saved = Saved.of(spec, state, disksCopied);
        try {
            if (!VmState.sameShape(saved.tree(), prebuiltShape)) throw new VmConfigException("the VM's shape changed during the migration");
            devices.openLaterDisks(saved.spec().devices().disks());
            VmState.apply(board, saved.spec(), saved.tree(), disksCopied); // the harts' threads wait, paused since the prebuild
        } catch (StateException e) {
            throw new VmConfigException("cannot restore: " + e.getMessage());
        }
        this.spec = saved.spec();
        prebuiltShape = null;
    }

    /**
     * Throws away a VM from {@link #prebuildForSwitchOver} that will not run (the migration failed, or
     * the switch-over builds another): closes its devices and disks but, unlike {@link #stop}, leaves
     * the console stream and the guest RAM to the caller.
     */
    public void discardPrebuilt() {
        exit.complete(EXIT_STOPPED);
        board.stop();
        try {
            console.close(); // its flusher thread; the stream under it stays open
        } catch (IOException ignored) {
            // nothing was written: the guest never ran
        }
    }

    /** A saved state (or shape) decoded, and the spec to build its VM from ({@link VmState#specForRestore}: the saved MACs). */
    private record Saved(StateTree tree, VmSpec spec) {
        static Saved of(VmSpec spec, byte[] state, boolean disksCopied) throws VmConfigException {
            try {
                StateTree tree = StateTree.decode(state);
                return new Saved(tree, VmState.specForRestore(spec, tree, disksCopied));
            } catch (StateException e) {
                throw new VmConfigException("cannot restore: " + e.getMessage());
            }
        }
    }

    /** Opens the control socket the VM's spec names (if any) of a VM made by {@link #restoreForSwitchOver}. */
    public void openControl() throws VmConfigException {
        withControl(this, spec);
    }

    private static VirtualMachine restore(VmSpec spec, byte[] state, GuestMemory mapped, RamSource ram, OutputStream console)
            throws VmConfigException {
        return restore(spec, state, mapped, ram, console, false);
    }

    private static VirtualMachine restore(VmSpec spec, byte[] state, GuestMemory mapped, RamSource ram, OutputStream console,
                                          boolean disksCopied) throws VmConfigException {
        VirtualMachine vm = restoreBoard(spec, state, mapped, ram, console, disksCopied);
        return withControl(vm, vm.spec);
    }

    private static VirtualMachine restoreBoard(VmSpec spec, byte[] state, GuestMemory mapped, RamSource ram, OutputStream console,
                                               boolean disksCopied) throws VmConfigException {
        Saved saved = Saved.of(spec, state, disksCopied);
        StateTree tree = saved.tree();
        VmSpec shaped = saved.spec();
        VirtualMachine vm = new VirtualMachine(shaped, console, false, mapped);
        try {
            if (ram != null) ram.copyTo(vm.board.memory);
            vm.board.clock.pause();
            vm.board.harts.pause(); // no threads yet: only marks the pause, which they will see first
            VmState.apply(vm.board, shaped, tree, disksCopied);
        } catch (StateException | IOException e) {
            vm.stop();
            throw new VmConfigException("cannot restore: " + e.getMessage());
        }
        vm.paused = true;
        vm.started = true;
        vm.board.start();
        return vm;
    }

    /**
     * Runs the save and restore path {@value #WARM_UP_RUNS} times on a small throwaway board, so that a
     * later restore in this process (a migration's switch-over) does not pay a cold JVM's first-run
     * costs: one run loads the classes, more get the JIT going (the destination's restore went from 2
     * to 7 ms with one run to 1.7 to 3.4 ms with ten; decoding the state alone from 2 ms after ten
     * runs to 0.3 ms after a hundred).
     */
    public static void warmUpRestore(int cpus) {
        VmState.warmUp(cpus, WARM_UP_RUNS);
    }

    /**
     * The source's side of {@link #warmUpRestore}: {@value #SAVE_WARM_UP_RUNS} runs, enough for the save
     * (a cold first one took 1 to 4 ms of the downtime). More would leave the source's JIT compiling
     * the warm-up's code into the pause, while its guest keeps that JIT busy anyway.
     */
    public static void warmUpSave(int cpus) {
        VmState.warmUp(cpus, SAVE_WARM_UP_RUNS);
    }

    private static final int WARM_UP_RUNS = 200, SAVE_WARM_UP_RUNS = 10;

    private static VirtualMachine withControl(VirtualMachine vm, VmSpec spec) throws VmConfigException {
        Path socket = spec.devices().controlSocket();
        if (socket != null) {
            try {
                vm.control = ControlServer.start(vm, socket);
            } catch (VmConfigException e) {
                vm.stop();
                throw e;
            }
        }
        return vm;
    }

    /** Lets the VM run: boots a built VM, or resumes a restored (paused) one. */
    public synchronized void start() {
        if (started) {
            resume();
            return;
        }
        started = true;
        board.start();
    }

    /** Feeds host input to the serial console, waiting while the UART's receive buffer is full. */
    public void consoleInput(byte[] data, int off, int len) {
        while (len > 0 && !exit.isDone()) {
            int n = board.uart.receive(data, off, len);
            off += n;
            len -= n;
            if (len > 0) {
                try {
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /** Waits for the guest to power off (or the VM to be stopped) and returns the exit status. */
    public int awaitExit() throws InterruptedException {
        int code;
        try {
            code = exit.get();
        } catch (ExecutionException e) {
            code = EXIT_INTERNAL_ERROR;
        }
        stop();
        return code;
    }

    /** Why the VM ended with {@link #EXIT_INTERNAL_ERROR}, or null. */
    public String failure() { return failure; }

    /**
     * Stops the guest: the vCPUs between instructions, then the virtio devices (a request being
     * served completes first), then the clock, so that the guest sees no time pass. Any thread.
     */
    public synchronized void pause() {
        if (paused) return;
        board.harts.pause();
        stoppedAtMicros = wallMicros();
        for (VirtioMmio t : board.virtioDevices()) t.device().quiesce();
        board.clock.pause();
        paused = true;
    }

    /** Lets a paused guest go on where it stopped. Any thread. */
    public synchronized void resume() {
        if (prebuiltShape != null) throw new IllegalStateException("a VM built ahead of a switch-over runs only once it has the state");
        if (!paused) return;
        paused = false;
        board.clock.resume();
        for (VirtioMmio t : board.virtioDevices()) t.device().unquiesce();
        resumedAtMicros = wallMicros();
        board.harts.resume();
    }

    /** See {@link #stoppedAtMicros}: when the vCPUs last stopped for a pause (0: never). */
    public long stoppedAtMicros() { return stoppedAtMicros; }

    /** See {@link #stoppedAtMicros}: when the vCPUs were last let go after a pause (0: never). */
    public long resumedAtMicros() { return resumedAtMicros; }

    private static long wallMicros() {
        java.time.Instant now = java.time.Instant.now();
        return now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
    }

    public boolean isPaused() { return paused; }

    /**
     * The device state of this paused VM (not its RAM) in the state file format: see {@link VmState}
     * for what is in it. Throws IllegalStateException unless paused.
     */
    public synchronized byte[] saveState() {
        if (!paused) throw new IllegalStateException("pause the VM before saving its state");
        return VmState.capture(board, spec).encode();
    }

    /**
     * This VM's shape (cpus, RAM, disks, card kinds...) in the state file format: a migration sends it
     * first, and the destination checks it with {@link #checkShape} before anything changes.
     */
    public byte[] shape() {
        return VmState.shapeOnly(board, spec).encode();
    }

    /**
     * Refuses {@code spec} unless a VM built from it has the {@link #shape} {@code shape}: one line
     * naming the first difference (e.g. the RAM sizes).
     */
    public static void checkShape(VmSpec spec, byte[] shape) throws VmConfigException {
        checkShape(spec, shape, false);
    }

    /**
     * As {@link #checkShape(VmSpec, byte[])}; with {@code disksCopied} (a storage migration) the
     * writable disks may be other files, of either format: their contents will be copied in.
     */
    public static void checkShape(VmSpec spec, byte[] shape, boolean disksCopied) throws VmConfigException {
        try {
            VmState.checkShape(StateTree.decode(shape), spec, disksCopied);
        } catch (StateException e) {
            throw new VmConfigException(e.getMessage());
        }
    }

    /**
     * One disk of a {@link #shape}: its path and image format at the source, its virtual size, and
     * which file it is ({@code host:(dev=..,ino=..)}, or null) so a copy is never made onto itself.
     */
    public record ShapeDisk(String path, String format, long size, boolean readOnly, String fileKey) {}

    /** The disks of a {@link #shape}, in slot order (vda first). */
    public static java.util.List<ShapeDisk> shapeDisks(byte[] shape) throws VmConfigException {
        try {
            return VmState.disks(StateTree.decode(shape));
        } catch (StateException e) {
            throw new VmConfigException(e.getMessage());
        }
    }

    /** {@code host:(dev=..,ino=..)} of an existing file, or null: compare with {@link ShapeDisk#fileKey}. */
    public static String fileKey(Path path) { return VmState.fileKey(path); }

    /** Writes every disk's cached data to its image (before another process opens the images). */
    public void flushDisks() throws IOException {
        for (var d : devices.disks) d.disk().flush();
    }

    /**
     * Ends the VM on the host's request ({@code quit} on the control socket): pauses it, so no write
     * is under way, makes the disks' writes durable, then stops it. {@link #awaitExit} returns 0, or
     * {@link #EXIT_INTERNAL_ERROR} (with the {@link #failure}) when the disks could not be flushed.
     */
    public synchronized void quit() {
        if (exit.isDone()) return; // ended already (a second quit, a poweroff): the disks are closed
        pause();
        int status = EXIT_STOPPED;
        try {
            flushDisks();
        } catch (IOException e) {
            failure = "flushing the disks before quitting: " + e.getMessage();
            status = EXIT_INTERNAL_ERROR;
        }
        exit.complete(status);
        stop();
    }

    /** Guest instructions retired by all vCPUs so far (racy: for monitoring). */
    public long instructionsRetired() { return board.harts.instructionsRetired(); }

    /** Host CPU time the vCPU threads have used, in nanoseconds. */
    public long vcpuCpuNanos() { return board.harts.cpuTimeNanos(); }

    /** The spec this VM was built from (for a restored VM: with the saved MACs filled in). */
    public VmSpec spec() { return spec; }

    /** After a snapshot moved the disks onto overlays: the spec that names them. */
    void replaceSpec(VmSpec next) { spec = next; }

    public void stop() {
        exit.complete(EXIT_STOPPED);
        if (control != null) control.close();
        board.stop();
        try {
            console.close();
        } catch (IOException ignored) {
            // the console went away; nothing to save
        }
    }

    /** Disks in slot order (vda first). */
    public java.util.List<dev.visor.devices.virtio.blk.VirtioBlk> disks() { return java.util.List.copyOf(devices.disks); }

    /** Network cards in slot order. */
    public java.util.List<dev.visor.devices.virtio.net.VirtioNet> nets() { return java.util.List.copyOf(devices.nets); }

    /** The memory balloon, or null when the VM has none. */
    public dev.visor.devices.virtio.balloon.VirtioBalloon balloon() { return devices.balloon; }

    /** The virtio-console port, or null. */
    public dev.visor.devices.virtio.console.VirtioConsole consolePort() { return devices.console; }

    /** Guest RAM size in bytes. */
    public long memoryBytes() { return board.memory.size(); }

    /** The board, for tests and tools in this process. */
    public VirtBoard board() { return board; }
}
