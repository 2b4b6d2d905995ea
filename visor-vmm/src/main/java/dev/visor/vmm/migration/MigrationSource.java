package dev.visor.vmm.migration;

import dev.visor.engine.riscv.HartGroup;
import dev.visor.machine.GuestMemory;
import dev.visor.vmm.SchedulerSlice;
import dev.visor.vmm.VirtualMachine;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * The sending side of a live migration ({@link MigrationProtocol}): pre-copy of guest RAM while the
 * guest runs, then a short stop-and-copy of what is left and of the device state.
 *
 * <pre>
 *   MigrationSource.Result r = MigrationSource.migrate(vm, MigrationProtocol.parseAddress("tcp:127.0.0.1:4444"),
 *           MigrationSource.Options.DEFAULT, progress, System.err::println);
 *   vm.stop();   // on success the guest runs at the destination; this copy is paused and must not resume
 * </pre>
 *
 * Implementation overview. Round 0 sends every page that is not all zeros (the destination's RAM
 * starts zeroed). Each later round reads and clears the dirty bitmap ({@link HartGroup#fetchAndClearDirty})
 * and sends those pages. The link's rate is measured on rounds that send at least 4 MiB; when the
 * dirty pages would go within the downtime target at that rate, or after {@link Options#maxRounds},
 * the guest is paused (vCPUs, devices, clock), the last dirty pages and the state are sent and the
 * destination builds its VM. Auto-converge: when the guest dirtied more than half of what a round
 * sent, twice in a row, the vCPUs are throttled (20 %, then 10 % more each time, at most 90 %).
 * Until the destination says READY and this side sends GO, any failure turns dirty logging off,
 * lifts the throttle and resumes the guest here.
 *
 * <p>With {@link Options#copyStorage} (no shared storage) each writable disk gets a
 * {@link DirtyTrackingBackend} in front of its image first, and before RAM pre-copy begins the
 * whole disk goes over ({@link DiskMirror}), then rounds of the chunks the guest changed until at
 * most {@value #DISK_SETTLE_BYTES} bytes are dirty. From then on each RAM round carries the chunks
 * changed since, the expected downtime counts them, and the stop-and-copy sends the last ones while
 * the guest is paused. The destination writes the copies to its own files and opens them as the
 * VM's disks only at the switch-over; until GO the disks here stay the VM's, and the trackers are
 * taken out whatever the outcome.
 */
public final class MigrationSource {
    /**
     * @param downtimeMillis the stop-and-copy may last about this long (default 300)
     * @param maxRounds      pre-copy rounds before stopping anyway (a guest that outruns the link even throttled)
     * @param autoConverge   throttle the vCPUs when the guest dirties faster than the link carries
     * @param copyStorage    copy the writable disks' contents too (no shared storage; see {@link DiskMirror})
     */
    public record Options(long downtimeMillis, int maxRounds, boolean autoConverge, boolean copyStorage) {
        public static final Options DEFAULT = new Options(300, 30, true, false);

        public Options(long downtimeMillis, int maxRounds, boolean autoConverge) {
            this(downtimeMillis, maxRounds, autoConverge, false);
        }

        public Options withDowntime(long millis) { return new Options(millis, maxRounds, autoConverge, copyStorage); }

        public Options withCopyStorage(boolean on) { return new Options(downtimeMillis, maxRounds, autoConverge, on); }
    }

    /**
     * What a finished migration did.
     *
     * @param diskBytes  disk data sent (chunks sent again after the guest changed them count again); 0 without copy-storage
     * @param diskMillis time of the disks' first full pass, before RAM pre-copy began
     * @param downtimeMillis the guest's pause: from the pause here until the guest ran at the destination,
     *                   measured as (pause until READY arrived, this host's clock) + (READY sent until
     *                   resumed, the destination's clock). Two intervals on two clocks, so no clock needs
     *                   to agree with the other; the sum overstates the pause by READY's trip one way.
     * @param lastByteMillis from the pause until the last byte of the state was sent: part of the
     *                   downtime, and what QEMU reports as its downtime (its destination's load left out)
     * @param confirmedMillis from the pause until the destination's RESUMED arrived here: the downtime
     *                   plus that message's trip, which on a busy host waits for a CPU
     */
    public record Result(double totalMillis, double downtimeMillis, int rounds, long bytesSent, long pagesSent, int maxThrottle,
                         long diskBytes, double diskMillis, double lastByteMillis, double confirmedMillis) {
        public Result(double totalMillis, double downtimeMillis, int rounds, long bytesSent, long pagesSent, int maxThrottle) {
            this(totalMillis, downtimeMillis, rounds, bytesSent, pagesSent, maxThrottle, 0, 0, 0, downtimeMillis);
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "total_ms=%.0f downtime_ms=%.1f rounds=%d sent_mb=%.1f pages=%d throttle=%d%% last_byte_ms=%.1f"
                            + " confirmed_ms=%.1f",
                    totalMillis, downtimeMillis, rounds, bytesSent / 1e6, pagesSent, maxThrottle, lastByteMillis, confirmedMillis)
                    + (diskMillis > 0 || diskBytes > 0 ? String.format(Locale.ROOT, " disk_mb=%.1f disk_copy_ms=%.0f", diskBytes / 1e6, diskMillis) : "");
        }
    }

    private static final int PAGE = (int) GuestMemory.PAGE_SIZE;
    /** A round must send at least this much for its rate to say something about the link. */
    private static final long MIN_MEASURE_BYTES = 4L << 20;
    /** Disk rounds before RAM pre-copy go on while more than this is dirty (later changes ride along with the RAM rounds). */
    private static final long DISK_SETTLE_BYTES = 8L << 20;
    /** Disk rounds before RAM pre-copy, at most (a guest that writes faster than the link carries). */
    private static final int MAX_DISK_ROUNDS = 10;

    private final VirtualMachine vm;
    private final GuestMemory memory;
    private final HartGroup harts;
    private final MigrationProgress progress;
    private final Consumer<String> log;
    private final Socket socket;
    private DataOutputStream out;
    private DataInputStream in;
    private final byte[] buffer = new byte[MigrationProtocol.MAX_RUN * PAGE];
    private final MemorySegment zero = MemorySegment.ofArray(new byte[PAGE]);
    private long pagesSent;
    /** With copy-storage: the disks' mirror, and the trackers put in place of their images (to be taken out again). */
    private DiskMirror mirror;
    private final java.util.List<dev.visor.devices.virtio.blk.VirtioBlk> tracked = new java.util.ArrayList<>();
    /** Dirty pages few enough for the stop-and-copy without more rounds (1 MiB: well under a millisecond here). */
    static final long SMALL_DIRTY_SET = 256;
    /** Rounds at most after the dirty set fits the downtime target (see the pre-copy loop). */
    static final int MAX_REFINING_ROUNDS = 3;

    /** System.nanoTime() of the last byte that went out or came in: the watchdog's clock. */
    private volatile long lastProgress = System.nanoTime();
    private volatile boolean finished;

    private MigrationSource(VirtualMachine vm, MigrationProgress progress, Consumer<String> log) {
        this.vm = vm;
        this.memory = vm.board().memory;
        this.harts = vm.board().harts;
        this.progress = progress;
        this.log = log;
        this.socket = new Socket();
    }

    /**
     * Moves the running (or paused) {@code vm} to the destination listening at {@code to}. On success
     * the VM here is left paused and must be {@link VirtualMachine#stop stopped}: its guest runs at the
     * destination. On failure (refusal, lost connection, timeout) the VM here runs on as before and
     * the {@link MigrationException} says why. Blocks for the whole migration; call from a thread of
     * its own, not a vCPU's.
     */
    public static Result migrate(VirtualMachine vm, InetSocketAddress to, Options options, MigrationProgress progress,
                                 Consumer<String> log) throws MigrationException {
        MigrationSource s = new MigrationSource(vm, progress, log);
        if (!Thread.currentThread().isVirtual()) return s.run(to, options);
        // On a virtual thread (the control server's) each blocking read wakes through the poller thread
        // and then a carrier thread: three threads to schedule for each of the switch-over's messages,
        // and on a busy host each waits for a core (see SchedulerSlice). A platform thread of its own
        // wakes once, and can be given a short scheduler slice.
        var result = new java.util.concurrent.atomic.AtomicReference<Object>();
        Thread t = Thread.ofPlatform().name("migration-source").start(() -> {
            try {
                result.set(s.run(to, options));
            } catch (MigrationException | RuntimeException e) {
                result.set(e);
            }
        });
        // The migration ends by itself (its watchdog times out a silent destination); the caller must
        // learn how, since the VM here may have committed to the destination.
        MigrationProtocol.joinUninterruptibly(t);
        Object r = result.get();
        if (r instanceof MigrationException e) throw e;
        if (r instanceof RuntimeException e) throw e;
        return (Result) r;
    }

    private Result run(InetSocketAddress to, Options options) throws MigrationException {
        long t0 = System.nanoTime();
        progress.startNanos = t0;
        boolean pausedHere = false, committed = false;
        int maxThrottle = 0;
        Thread watchdog = Thread.ofVirtual().name("migration-watchdog").start(this::watch);
        // the switch-over's messages must not wait for a core (see SchedulerSlice)
        boolean shortSlice = SchedulerSlice.setForCurrentThread(SchedulerSlice.SHORT_NANOS);
        try {
            progress.phase = MigrationProgress.Phase.CONNECTING;
            try {
                socket.connect(to, 10_000);
            } catch (IOException e) {
                throw new MigrationException("cannot connect to the destination " + to + ": " + e.getMessage());
            }
            socket.setTcpNoDelay(true);
            socket.setSoTimeout(MigrationProtocol.TIMEOUT_MILLIS);
            out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), 1 << 20));
            in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));

            byte[] shape = vm.shape();
            out.writeByte(MigrationProtocol.HELLO);
            out.writeLong(MigrationProtocol.MAGIC);
            out.writeInt(MigrationProtocol.VERSION);
            out.writeInt(options.copyStorage() ? MigrationProtocol.COPY_STORAGE : 0);
            out.writeInt(shape.length);
            out.write(shape);
            out.flush();
            int answer = in.readUnsignedByte();
            if (answer != MigrationProtocol.ACCEPT) throw MigrationProtocol.unexpected(in, answer, "ACCEPT");
            touch();
            // the state is saved inside the downtime: run that code now, while the guest runs (a cold
            // first save took 1 to 4 ms of it)
            Thread warmUp = Thread.ofPlatform().daemon().name("migration-warm-up").start(() -> VirtualMachine.warmUpSave(harts.count()));

            // ---- storage: every chunk, then the chunks changed meanwhile, while the guest runs
            double diskMillis = 0;
            if (options.copyStorage()) diskMillis = copyDisks();

            // ---- pre-copy
            progress.phase = MigrationProgress.Phase.PRECOPY;
            harts.startDirtyLog();
            long[] dirty = new long[memory.dirtyBitmapWords()];
            long roundStart = System.nanoTime(), lastRead = roundStart;
            long sent = sendPages(null);
            if (mirror != null) sent += mirror.sendDirty();
            endRound(0, sent, roundStart);
            int hot = 0;
            int round = 1, refined = 0;
            long dirtyCount, lastDirty = Long.MAX_VALUE;
            while (true) {
                long now = System.nanoTime();
                harts.fetchAndClearDirty(dirty);
                dirtyCount = count(dirty);
                double seconds = Math.max(1e-6, (now - lastRead) / 1e9);
                lastRead = now;
                progress.dirtyPages = dirtyCount;
                progress.dirtyRate = dirtyCount * PAGE / seconds;
                long dirtyChunks = mirror == null ? 0 : mirror.dirtyChunks();
                progress.diskDirtyChunks = dirtyChunks;
                double expected = expectedDowntime(dirtyCount, dirtyChunks);
                progress.expectedDowntimeMillis = expected;
                boolean withinTarget = expected <= options.downtimeMillis();
                // Within the target, a few more live rounds still shorten the pause while each leaves
                // under half the pages of the one before: a guest writing 100 MB/s leaves megabytes after
                // the first round, and one more round sent while it runs leaves a few hundred KB.
                if (withinTarget && (dirtyCount <= SMALL_DIRTY_SET || refined >= MAX_REFINING_ROUNDS || dirtyCount * 2 > lastDirty)) break;
                if (round > options.maxRounds()) break;
                if (withinTarget) refined++;
                lastDirty = dirtyCount;
                roundStart = System.nanoTime();
                sent = sendPages(dirty);
                if (mirror != null) sent += mirror.sendDirty();
                // auto-converge: the guest dirtied more than half of what the last round carried
                if (options.autoConverge() && (double) dirtyCount * PAGE > 0.5 * Math.max(sent, 1)) {
                    if (++hot >= 2) {
                        int t = harts.throttle();
                        int next = t == 0 ? 20 : Math.min(90, t + 10);
                        if (next != t) {
                            harts.setThrottle(next);
                            progress.throttlePercent = next;
                            maxThrottle = Math.max(maxThrottle, next);
                            log.accept("migration: auto-converge: vCPUs throttled to " + next + "%");
                        }
                        hot = 0;
                    }
                } else {
                    hot = 0;
                }
                endRound(round++, sent, roundStart);
            }

            // ---- stop-and-copy
            MigrationProtocol.joinQuietly(warmUp); // done long since, unless the migration was very short
            progress.phase = MigrationProgress.Phase.STOP_AND_COPY;
            harts.setThrottle(0);
            long pauseAt = System.nanoTime();
            pausedHere = !vm.isPaused();
            vm.pause();
            long[] last = new long[dirty.length];
            harts.fetchAndClearDirty(last);
            for (int i = 0; i < dirty.length; i++) dirty[i] |= last[i];
            long lastPages = count(dirty);
            long paused = System.nanoTime();
            sendPages(dirty);
            long lastChunks = 0;
            if (mirror != null) { // the guest is paused and its disks quiesced: these are the last changes
                long chunksBefore = mirror.chunksSent();
                mirror.sendDirty();
                lastChunks = mirror.chunksSent() - chunksBefore;
            }
            long pagesSentAt = System.nanoTime();
            vm.flushDisks(); // the destination opens the same images once it has the state
            long flushed = System.nanoTime();
            byte[] state = vm.saveState();
            out.writeByte(MigrationProtocol.STATE);
            out.writeInt(state.length);
            out.write(state);
            out.writeByte(MigrationProtocol.DONE);
            out.flush();
            progress.bytesSent += 5 + state.length + 1;
            touch();
            long stateSent = System.nanoTime();
            progress.phase = MigrationProgress.Phase.SWITCHING_OVER;
            answer = in.readUnsignedByte();
            if (answer != MigrationProtocol.READY) throw MigrationProtocol.unexpected(in, answer, "READY");
            long ready = System.nanoTime();
            out.writeByte(MigrationProtocol.GO);
            out.flush();
            committed = true; // the guest is the destination's from here on
            long readyToResumed = -1; // the destination's clock
            try {
                socket.setSoTimeout(5_000);
                if (in.readUnsignedByte() != MigrationProtocol.RESUMED) log.accept("migration: the destination did not confirm the resume");
                else readyToResumed = in.readLong();
            } catch (IOException e) {
                log.accept("migration: the destination did not confirm the resume: " + e.getMessage());
            }
            long end = System.nanoTime();
            // without the destination's figure (or with a nonsense one) the confirmation's arrival is all we know
            double downtime = readyToResumed >= 0 && readyToResumed <= end - ready ? (ready - pauseAt + readyToResumed) / 1e6 : (end - pauseAt) / 1e6;
            log.accept(String.format(Locale.ROOT, "migration: stop-and-copy: %d pages, %d disk chunks, %d bytes of state; guest paused %.1f ms: "
                            + "pause %.1f, pages+chunks %.1f, disk flush %.1f, state %.1f, destination build %.1f, go/resume %.1f "
                            + "(the destination's clock); confirmation here after %.1f ms; stopped_at_us=%d",
                    lastPages, lastChunks, state.length, downtime, (paused - pauseAt) / 1e6, (pagesSentAt - paused) / 1e6,
                    (flushed - pagesSentAt) / 1e6, (stateSent - flushed) / 1e6, (ready - stateSent) / 1e6, readyToResumed / 1e6,
                    (end - pauseAt) / 1e6, vm.stoppedAtMicros()));
            progress.downtimeMillis = downtime;
            progress.totalMillis = (end - t0) / 1e6;
            progress.phase = MigrationProgress.Phase.COMPLETED;
            Result r = new Result(progress.totalMillis, progress.downtimeMillis, progress.round, progress.bytesSent, pagesSent, maxThrottle,
                    mirror == null ? 0 : mirror.dataBytes(), diskMillis, (stateSent - pauseAt) / 1e6, (end - pauseAt) / 1e6);
            log.accept("migration: completed: " + r);
            return r;
        } catch (IOException | RuntimeException e) {
            String why = e instanceof MigrationException ? e.getMessage()
                    : e instanceof EOFException ? "the destination closed the connection"
                    : e instanceof SocketTimeoutException ? "the destination did not answer within " + MigrationProtocol.TIMEOUT_MILLIS / 1000 + " s"
                    : finished ? "timed out: nothing moved for " + MigrationProtocol.TIMEOUT_MILLIS / 1000 + " s"
                    : "connection to the destination lost: " + e.getMessage();
            progress.error = why;
            progress.phase = MigrationProgress.Phase.FAILED;
            log.accept("migration: failed, the VM goes on here: " + why);
            throw new MigrationException(why, e);
        } finally {
            if (shortSlice) SchedulerSlice.setForCurrentThread(0);
            finished = true;
            watchdog.interrupt();
            harts.setThrottle(0);
            harts.stopDirtyLog();
            progress.throttlePercent = 0;
            try {
                socket.close();
            } catch (IOException ignored) {
                // nothing more to say to the destination
            }
            untrackDisks(); // the source's disks are its images again (on success this VM only stops)
            if (!committed && pausedHere) vm.resume();
        }
    }

    /**
     * Puts a {@link DirtyTrackingBackend} in front of each writable disk, sends every chunk, then
     * rounds of the changed chunks until few are left (the rest go with the RAM rounds and the
     * stop-and-copy). Returns the milliseconds it took.
     */
    private double copyDisks() throws IOException {
        progress.phase = MigrationProgress.Phase.DISK_COPY;
        long start = System.nanoTime();
        java.util.List<DiskMirror.Disk> disks = new java.util.ArrayList<>();
        java.util.List<dev.visor.devices.virtio.blk.VirtioBlk> all = vm.disks();
        for (int i = 0; i < all.size(); i++) {
            var d = all.get(i);
            if (d.disk().readOnly()) continue; // shared: the destination checked it names the same file
            DirtyTrackingBackend tracker = new DirtyTrackingBackend(d.disk(), MigrationProtocol.DISK_CHUNK);
            d.replaceBackend(tracker);
            tracked.add(d);
            disks.add(new DiskMirror.Disk(i, tracker));
        }
        mirror = new DiskMirror(disks, out, n -> {
            progress.bytesSent += n;
            progress.diskBytesCopied = mirror.coveredBytes();
            progress.diskBytesSent = mirror.dataBytes();
            touch();
        });
        progress.diskBytesTotal = mirror.totalBytes();
        long sent = mirror.sendAll();
        double seconds = (System.nanoTime() - start) / 1e9;
        if (mirror.dataBytes() >= MIN_MEASURE_BYTES && seconds > 0) progress.bandwidth = sent / seconds;
        log.accept(String.format(Locale.ROOT, "migration: disks: %.1f MB of %.1f MB were data, sent in %.0f ms; %d chunks changed meanwhile",
                mirror.dataBytes() / 1e6, mirror.totalBytes() / 1e6, seconds * 1000, mirror.dirtyChunks()));
        for (int r = 1; r <= MAX_DISK_ROUNDS && (long) mirror.dirtyChunks() * mirror.chunkSize() > DISK_SETTLE_BYTES; r++) {
            long t = System.nanoTime();
            long n = mirror.sendDirty();
            log.accept(String.format(Locale.ROOT, "migration: disk round %d sent %.1f MB in %.0f ms", r, n / 1e6, (System.nanoTime() - t) / 1e6));
        }
        return (System.nanoTime() - start) / 1e6;
    }

    /** Takes the trackers out again (each disk's own image back in place). */
    private void untrackDisks() {
        for (var d : tracked) {
            if (d.disk() instanceof DirtyTrackingBackend t) d.replaceBackend(t.disk());
        }
        tracked.clear();
        if (mirror != null) progress.diskBytesSent = mirror.dataBytes();
    }

    /** Closes the socket when nothing has moved for the timeout (a destination that stopped reading). */
    private void watch() {
        while (!finished) {
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                return;
            }
            if (System.nanoTime() - lastProgress > MigrationProtocol.TIMEOUT_MILLIS * 1_000_000L && !finished) {
                finished = true; // tells the failure handler why the socket closed
                try {
                    socket.close();
                } catch (IOException ignored) {
                    // closing is all we wanted
                }
                return;
            }
        }
    }

    private void touch() { lastProgress = System.nanoTime(); }

    private double expectedDowntime(long dirtyPages, long dirtyChunks) {
        double bw = progress.bandwidth;
        if (bw <= 0) return Double.MAX_VALUE;
        return (dirtyPages * (PAGE + 1.0) + dirtyChunks * (MigrationProtocol.DISK_CHUNK + 14.0)) / bw * 1000;
    }

    /**
     * Ends a round and waits until the destination has taken in all of it. Without the wait, what the
     * socket buffers still held was drained during the stop-and-copy: the destination's last read
     * took 15 to 20 ms of the guest's downtime. It also makes the bandwidth (and so the expected
     * downtime) what reaches the destination, not what the local socket buffer takes.
     */
    private void endRound(int round, long sent, long roundStart) throws IOException {
        out.writeByte(MigrationProtocol.ROUND);
        out.writeInt(round);
        out.flush();
        progress.bytesSent += 5;
        int answer = in.readUnsignedByte();
        if (answer != MigrationProtocol.ROUND_ACK) throw MigrationProtocol.unexpected(in, answer, "ROUND_ACK");
        int acked = in.readInt();
        if (acked != round) throw new MigrationException("protocol error: the destination acknowledged round " + acked + ", not " + round);
        touch();
        double seconds = (System.nanoTime() - roundStart) / 1e9;
        if (sent >= MIN_MEASURE_BYTES && seconds > 0) progress.bandwidth = sent / seconds;
        progress.round = round + 1;
        if (mirror != null) progress.diskDirtyChunks = mirror.dirtyChunks();
        log.accept(String.format(Locale.ROOT, "migration: round %d sent %.1f MB in %.0f ms; %s",
                round, sent / 1e6, seconds * 1000, progress));
    }

    /**
     * Sends the pages set in {@code bitmap} (zero pages as ZERO), or with null every non-zero page
     * (round 0). Returns the bytes written.
     */
    private long sendPages(long[] bitmap) throws IOException {
        long pages = memory.size() / PAGE, before = progress.bytesSent;
        runLength = 0;
        // 64 pages (one bitmap word) per call: VM processes run without on-stack replacement (see ./visor),
        // so a loop runs as compiled code only in a method called often enough to be compiled
        for (long first = 0; first < pages; first += 64) {
            long w = bitmap == null ? -1L : bitmap[(int) (first >>> 6)];
            if (w == 0) { // 64 clean pages
                endRun();
                continue;
            }
            sendWord(first, Math.min(64, pages - first), w, bitmap == null);
        }
        endRun();
        out.flush();
        touch();
        return progress.bytesSent - before;
    }

    /** The run of pages being gathered for one PAGES or ZERO message: first page, length, and which. */
    private long runStart;
    private int runLength;
    private boolean runZero;

    /** Adds the pages {@code first + i} whose bit i is set in {@code w} to runs (round 0: the non-zero ones). */
    private void sendWord(long first, long count, long w, boolean round0) throws IOException {
        for (int i = 0; i < count; i++) {
            long p = first + i;
            if ((w & (1L << i)) == 0) {
                endRun();
                continue;
            }
            boolean isZero = memory.segment().asSlice(p * PAGE, PAGE).mismatch(zero) < 0;
            if (isZero && round0) { // round 0: the destination's RAM is zero already
                endRun();
                continue;
            }
            if (runLength > 0 && (isZero != runZero || runLength == MigrationProtocol.MAX_RUN)) endRun();
            if (runLength == 0) { runStart = p; runZero = isZero; }
            if (!isZero) MemorySegment.copy(memory.segment(), ValueLayout.JAVA_BYTE, p * PAGE, buffer, runLength * PAGE, PAGE);
            runLength++;
        }
    }

    /** Sends the run gathered so far, if any. */
    private void endRun() throws IOException {
        if (runLength > 0) {
            flushRun(runStart, runLength, runZero);
            runLength = 0;
        }
    }

    private void flushRun(long first, int count, boolean isZero) throws IOException {
        out.writeByte(isZero ? MigrationProtocol.ZERO : MigrationProtocol.PAGES);
        out.writeLong(first);
        out.writeShort(count);
        long n = 11;
        if (!isZero) {
            out.write(buffer, 0, count * PAGE);
            n += (long) count * PAGE;
        }
        pagesSent += count;
        progress.bytesSent += n;
        touch();
    }

    private static long count(long[] bitmap) {
        long n = 0;
        for (long w : bitmap) n += Long.bitCount(w);
        return n;
    }
}
