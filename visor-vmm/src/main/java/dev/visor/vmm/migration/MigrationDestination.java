package dev.visor.vmm.migration;

import dev.visor.board.virt.VirtMemoryMap;
import dev.visor.machine.GuestMemory;
import dev.visor.vmm.DiskSpec;
import dev.visor.vmm.SchedulerSlice;
import dev.visor.vmm.VirtualMachine;
import dev.visor.vmm.VmConfigException;
import dev.visor.vmm.VmSpec;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * The receiving side of a live migration ({@link MigrationProtocol}): listens, takes one incoming
 * VM and returns it running.
 *
 * <pre>
 *   try (MigrationDestination d = MigrationDestination.listen(MigrationProtocol.parseAddress("tcp:127.0.0.1:4444"))) {
 *       VirtualMachine vm = d.accept(spec, console, System.err::println);   // blocks until the switch-over
 *   }
 * </pre>
 *
 * The VM is built (its network set up, its devices made) while the RAM streams in, from the shape
 * the source sent first; its disks are opened and its state set only once the source has paused
 * its guest and sent the state: with shared storage the source has flushed its disks and writes no
 * more. (The control socket is bound after the guest runs again.) Until then no guest runs here;
 * a broken stream, a timeout or a bad message throws away what was received and built, and
 * {@link #accept} fails. With copy-storage the writable disks' contents arrive too and go into the
 * image files the spec names
 * ({@link DiskTargets}: created if missing); the VM opens them only after the source's GO is
 * pending, and a failure before GO deletes the files this migration created.
 */
public final class MigrationDestination implements AutoCloseable {
    private static final int PAGE = (int) GuestMemory.PAGE_SIZE;
    private final ServerSocket server;

    private MigrationDestination(ServerSocket server) {
        this.server = server;
    }

    /** Listens on {@code address} (port 0: any free port, see {@link #port}). */
    public static MigrationDestination listen(InetSocketAddress address) throws MigrationException {
        try {
            ServerSocket s = new ServerSocket();
            s.setReuseAddress(true);
            s.bind(address, 1);
            return new MigrationDestination(s);
        } catch (IOException e) {
            throw new MigrationException("cannot listen for a migration on " + address + ": " + e.getMessage(), e);
        }
    }

    public int port() { return server.getLocalPort(); }

    /**
     * Waits for a source, takes its VM into a VM built for {@code spec} (which must have the source's
     * shape, else the source is told why and this fails) and returns it running, its console on
     * {@code console}. One migration per listener.
     */
    public VirtualMachine accept(VmSpec spec, OutputStream console, Consumer<String> log) throws MigrationException, VmConfigException {
        Socket socket;
        try {
            socket = server.accept();
        } catch (IOException e) {
            throw new MigrationException("waiting for a migration: " + e.getMessage(), e);
        } finally {
            close();
        }
        // the switch-over's messages must not wait for a core (see SchedulerSlice)
        boolean shortSlice = SchedulerSlice.setForCurrentThread(SchedulerSlice.SHORT_NANOS);
        try (socket) {
            socket.setSoTimeout(MigrationProtocol.TIMEOUT_MILLIS);
            socket.setTcpNoDelay(true);
            DataInputStream in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 1 << 20));
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream()));
            return receive(spec, in, out, console, log);
        } catch (EOFException e) {
            throw new MigrationException("the source closed the connection before the switch-over; nothing was kept", e);
        } catch (SocketTimeoutException e) {
            throw new MigrationException("the source sent nothing for " + MigrationProtocol.TIMEOUT_MILLIS / 1000
                    + " s; nothing was kept", e);
        } catch (MigrationException e) {
            throw e;
        } catch (IOException e) {
            throw new MigrationException("the connection to the source broke before the switch-over (" + e.getMessage()
                    + "); nothing was kept", e);
        } finally {
            if (shortSlice) SchedulerSlice.setForCurrentThread(0);
        }
    }

    private static VirtualMachine receive(VmSpec spec, DataInputStream in, DataOutputStream out, OutputStream console,
                                          Consumer<String> log) throws IOException, VmConfigException {
        // ---- hello: refused here, before anything is allocated or opened
        int type = in.readUnsignedByte();
        if (type != MigrationProtocol.HELLO || in.readLong() != MigrationProtocol.MAGIC) {
            throw new MigrationException("not a Visor migration stream");
        }
        int version = in.readInt();
        if (version != MigrationProtocol.VERSION) {
            throw refuse(out, "this Visor speaks migration protocol version " + MigrationProtocol.VERSION + ", the source " + version);
        }
        int flags = in.readInt();
        if ((flags & ~MigrationProtocol.KNOWN_FLAGS) != 0) {
            throw refuse(out, "the source asks for migration features " + Integer.toHexString(flags) + " this Visor does not know");
        }
        boolean copyStorage = (flags & MigrationProtocol.COPY_STORAGE) != 0;
        byte[] shape = readSized(in, "shape");
        List<VirtualMachine.ShapeDisk> sourceDisks;
        try {
            VirtualMachine.checkShape(spec, shape, copyStorage);
            sourceDisks = VirtualMachine.shapeDisks(shape);
        } catch (VmConfigException e) {
            throw refuse(out, e.getMessage().replace("the VM was saved with", "the source VM has").replace("when saved", "at the source"));
        }
        DiskTargets targets = null;
        if (copyStorage) {
            try {
                targets = DiskTargets.prepare(spec, sourceDisks);
            } catch (MigrationException e) {
                throw refuse(out, e.getMessage());
            }
        } else {
            for (DiskSpec d : spec.devices().disks()) {
                if (!Files.exists(d.path())) {
                    throw refuse(out, "disk " + d.path() + " does not exist here; without shared storage migrate with copy-storage=on");
                }
            }
        }

        boolean built = false, kept = false;
        GuestMemory memory = null;
        AtomicReference<VirtualMachine> prebuilt = new AtomicReference<>();
        Thread warmUp = null;
        try {
            memory = new GuestMemory(VirtMemoryMap.DRAM.base, spec.memoryBytes());
            out.writeByte(MigrationProtocol.ACCEPT);
            out.flush();
            // Pay a cold JVM's first-run costs of the restore path now, not during the downtime, and
            // build the VM (all but its disks' images) while the RAM streams in: the switch-over then
            // only opens the disks and sets the state.
            GuestMemory guestRam = memory;
            warmUp = Thread.ofPlatform().daemon().name("migration-warm-up").start(() -> {
                VirtualMachine.warmUpRestore(spec.cpus());
                try {
                    prebuilt.set(VirtualMachine.prebuildForSwitchOver(spec, shape, guestRam, console, copyStorage));
                } catch (VmConfigException | RuntimeException e) {
                    log.accept("migration: the VM is built at the switch-over instead of now: " + e.getMessage());
                }
                long waited = MigrationProtocol.awaitQuietJit();
                log.accept("migration: warm-up done; the JIT settled after " + waited + " ms");
            });
            if (targets != null) log.accept("migration: copying " + targets.count() + " disk(s) into " + spec.devices().disks().stream()
                    .filter(d -> !d.readOnly()).map(d -> d.path().toString()).toList());

            // ---- disks, RAM rounds, then the state
            byte[] buffer = new byte[MigrationProtocol.MAX_RUN * PAGE];
            long pages = memory.size() / PAGE, received = 0;
            byte[] state = null;
            MemorySegment ram = memory.segment();
            loop:
            while (true) {
                type = in.readUnsignedByte();
                switch (type) {
                    case MigrationProtocol.PAGES, MigrationProtocol.ZERO -> {
                        long first = in.readLong();
                        int count = in.readUnsignedShort();
                        if (count < 1 || count > MigrationProtocol.MAX_RUN || first < 0 || first > pages - count) {
                            throw new MigrationException("protocol error: pages " + first + "+" + count + " are not in the VM's RAM");
                        }
                        if (type == MigrationProtocol.PAGES) {
                            in.readFully(buffer, 0, count * PAGE);
                            MemorySegment.copy(buffer, 0, ram, ValueLayout.JAVA_BYTE, first * PAGE, count * PAGE);
                            received += (long) count * PAGE;
                        } else {
                            ram.asSlice(first * PAGE, (long) count * PAGE).fill((byte) 0);
                        }
                    }
                    case MigrationProtocol.DISK, MigrationProtocol.DISK_ZERO -> {
                        if (targets == null) throw new MigrationException("protocol error: disk data without copy-storage");
                        targets.receive(type, in);
                    }
                    case MigrationProtocol.ROUND -> {
                        int round = in.readInt();
                        log.accept("migration: round " + round + " received, " + received / 1_000_000 + " MB of RAM"
                                + (targets == null ? "" : ", " + targets.dataBytes() / 1_000_000 + " MB of disk") + " so far");
                        if (targets != null) targets.flush(); // little is left for the flush at the switch-over
                        // the source may pause the guest once this is acknowledged: the warm-up must not
                        // still be taking CPU from the switch-over then
                        MigrationProtocol.joinQuietly(warmUp);
                        out.writeByte(MigrationProtocol.ROUND_ACK);
                        out.writeInt(round);
                        out.flush();
                    }
                    case MigrationProtocol.STATE -> state = readSized(in, "state");
                    case MigrationProtocol.DONE -> { break loop; }
                    default -> throw new MigrationException("protocol error: unexpected message type " + type);
                }
            }
            if (state == null) throw new MigrationException("protocol error: the stream ended without the VM's state");
            long done = System.nanoTime();

            // ---- switch-over: the VM, paused, takes the state; the source resumes its own if this fails
            MigrationProtocol.joinQuietly(warmUp);
            long joined = System.nanoTime();
            VirtualMachine vm = null;
            boolean ahead = false;
            try {
                VmSpec switchSpec = targets == null ? spec : targets.finish(spec);
                // the VM built ahead stays in `prebuilt` until it holds the state: any failure before that
                // leaves it to the finally block below, which throws it away
                VirtualMachine early = prebuilt.get();
                if (early != null) {
                    try {
                        early.completeSwitchOver(switchSpec, state, targets != null);
                        vm = early;
                        ahead = true;
                        prebuilt.set(null);
                    } catch (VmConfigException | RuntimeException e) {
                        prebuilt.set(null);
                        early.discardPrebuilt();
                        log.accept("migration: the VM built ahead does not fit the state (" + e.getMessage() + "); building it again");
                    }
                }
                if (vm == null) vm = VirtualMachine.restoreForSwitchOver(switchSpec, state, memory, console, targets != null);
            } catch (VmConfigException | IOException e) {
                MigrationProtocol.writeReason(out, MigrationProtocol.REFUSE, e.getMessage());
                throw e;
            }
            built = true;
            long ready = System.nanoTime(), readySent = ready;
            try {
                out.writeByte(MigrationProtocol.READY);
                out.flush();
                readySent = System.nanoTime();
                type = in.readUnsignedByte();
                if (type != MigrationProtocol.GO) throw new MigrationException("protocol error: expected GO, got message type " + type);
            } catch (IOException e) {
                vm.stop(); // the source keeps the guest
                throw e;
            }
            kept = true; // the commit point: the disk copies are this VM's disks now
            vm.resume();
            long resumed = System.nanoTime();
            try {
                out.writeByte(MigrationProtocol.RESUMED);
                out.writeLong(resumed - readySent); // the source adds this to its own pause-to-READY time
                out.flush();
            } catch (IOException e) {
                log.accept("migration: could not confirm the resume to the source: " + e.getMessage());
            }
            try {
                vm.openControl(); // after the resume: not part of the guest's downtime
            } catch (VmConfigException e) {
                log.accept("migration: the VM runs, but its control socket could not be opened: " + e.getMessage());
            }
            log.accept(String.format(java.util.Locale.ROOT, "migration: switch-over here: %s, state to ready %.1f ms (waiting for the"
                    + " warm-up %.1f), ready to resumed %.1f ms; resumed_at_us=%d", ahead ? "built ahead" : "built at the switch-over",
                    (ready - done) / 1e6, (joined - done) / 1e6, (resumed - ready) / 1e6, vm.resumedAtMicros()));
            log.accept("migration: the VM runs here now (" + received / 1_000_000 + " MB of RAM"
                    + (targets == null ? "" : ", " + targets.dataBytes() / 1_000_000 + " MB of disk") + " received)");
            return vm;
        } finally {
            // even when interrupted: a VM the warm-up builds after this point would be nobody's
            if (warmUp != null) MigrationProtocol.joinUninterruptibly(warmUp);
            VirtualMachine unused = prebuilt.getAndSet(null);
            if (unused != null) unused.discardPrebuilt();
            if (!built && memory != null) memory.release(memory.base(), memory.size());
            if (!kept && targets != null) targets.discard();
        }
    }

    /** Tells the source why it is refused, and returns the exception that ends this side. */
    private static MigrationException refuse(DataOutputStream out, String why) throws IOException {
        MigrationProtocol.writeReason(out, MigrationProtocol.REFUSE, why);
        return new MigrationException("refused: " + why);
    }

    private static byte[] readSized(DataInputStream in, String what) throws IOException {
        int n = in.readInt();
        if (n < 0 || n > MigrationProtocol.MAX_STATE) throw new MigrationException("protocol error: a " + what + " of " + n + " bytes");
        byte[] b = new byte[n];
        in.readFully(b);
        return b;
    }

    /** Stops listening (an {@link #accept} waiting fails). */
    @Override
    public void close() {
        try {
            server.close();
        } catch (IOException ignored) {
            // closed already
        }
    }
}
