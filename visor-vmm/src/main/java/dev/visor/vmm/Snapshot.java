package dev.visor.vmm;

import dev.visor.block.BlockBackend;
import dev.visor.block.BlockImages;
import dev.visor.board.virt.VirtMemoryMap;
import dev.visor.devices.virtio.blk.VirtioBlk;
import dev.visor.devices.virtio.net.VirtioNet;
import dev.visor.machine.GuestMemory;

import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Snapshots of a VM to a directory, and VMs restored from them.
 *
 * <pre>
 *   DIR/manifest   what the VM was (cpus, memory, kernel..., disks, cards): {@link SnapshotManifest}
 *   DIR/state      the device state tree ({@link VirtualMachine#saveState})
 *   DIR/ram        guest RAM, a sparse file of the RAM's size: pages that are all zero are holes
 * </pre>
 *
 * <p>Disks: a snapshot freezes each writable disk. The image the VM was writing becomes the
 * snapshot's disk (named in the manifest; it must not be written again) and the running VM goes on
 * on a new qcow2 overlay beside it ({@code IMAGE-SNAPNAME.qcow2}). Read-only disks are used as they
 * are. A restore puts a new overlay on each frozen image, so the snapshot stays reusable and clones
 * do not see each other's writes.
 *
 * <p>RAM: a restore maps DIR/ram copy-on-write ({@link GuestMemory#mapFile}): it takes the same
 * time whatever the RAM size, and VMs restored from one snapshot share the pages none of them wrote.
 * DIR/ram must therefore stay as it is while such a VM runs.
 *
 * <p>Everything is written to {@code DIR.tmp} and renamed to DIR at the end: a snapshot directory is
 * either complete or absent.
 */
public final class Snapshot {
    static final String MANIFEST = "manifest", STATE = "state", RAM = "ram";
    /** A state file is kilobytes; the state format caps it at 64 MiB and so does the read here. */
    private static final long MAX_STATE = 64L << 20;
    /** Largest single write of RAM (a run of non-zero pages is cut into pieces of this size). */
    private static final long MAX_RUN = 64L << 20;

    private Snapshot() {}

    /**
     * What a snapshot wrote.
     *
     * @param ramBytes   bytes of RAM written (non-zero pages)
     * @param pauseNanos how long the guest was stopped for it
     * @param liveDisks  the overlays the VM now writes, in disk order (null for a read-only disk)
     */
    public record Created(Path dir, long ramBytes, int stateBytes, long pauseNanos, List<Path> liveDisks) {}

    /**
     * Snapshots {@code vm} to {@code dir}, which must not exist: pauses the VM (if it runs), writes the
     * snapshot, freezes its writable disks, and resumes it unless {@code leavePaused}. Any thread.
     */
    public static Created create(VirtualMachine vm, Path dir, boolean leavePaused) throws IOException {
        dir = dir.toAbsolutePath().normalize();
        if (Files.exists(dir)) throw new FileAlreadyExistsException(dir.toString(), null, "already exists (a snapshot is never overwritten)");
        Path tmp = dir.resolveSibling(dir.getFileName() + ".tmp");
        synchronized (vm) {
            removeLeftover(tmp);
            Files.createDirectories(tmp);
            boolean wasPaused = vm.isPaused();
            long t0 = System.nanoTime();
            vm.pause();
            boolean done = false;
            try {
                byte[] state = vm.saveState();
                write(tmp.resolve(STATE), state);
                long ram = writeRam(vm.board().memory, tmp.resolve(RAM));
                List<DiskSpec> frozen = new ArrayList<>();
                List<Path> live = freezeDisks(vm, dir.getFileName().toString(), frozen);
                List<byte[]> macs = new ArrayList<>();
                for (VirtioNet n : vm.nets()) {
                    byte[] mac = new byte[6];
                    for (int i = 0; i < 6; i++) mac[i] = (byte) n.readConfig(i, 1);
                    macs.add(mac);
                }
                write(tmp.resolve(MANIFEST), SnapshotManifest.of(vm.spec(), frozen, macs).encode().getBytes(StandardCharsets.UTF_8));
                try {
                    Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(tmp, dir);
                }
                syncDirectory(dir.getParent());
                done = true;
                return new Created(dir, ram, state.length, System.nanoTime() - t0, live);
            } finally {
                if (!done) removeLeftover(tmp);
                if (!wasPaused && !leavePaused) vm.resume();
            }
        }
    }

    /**
     * Moves each writable disk of the paused {@code vm} onto a new qcow2 overlay; the image it wrote
     * until now goes into {@code frozen} (read-only disks go in as they are). Returns the overlays.
     */
    private static List<Path> freezeDisks(VirtualMachine vm, String snapshotName, List<DiskSpec> frozen) throws IOException {
        VmSpec spec = vm.spec();
        List<DiskSpec> now = new ArrayList<>(spec.devices().disks());
        List<Path> live = new ArrayList<>();
        List<VirtioBlk> disks = vm.disks();
        for (int i = 0; i < disks.size(); i++) {
            DiskSpec d = now.get(i);
            VirtioBlk blk = disks.get(i);
            Path image = d.path().toAbsolutePath().normalize();
            String format = blk.disk().format();
            if (d.readOnly()) {
                frozen.add(new DiskSpec(image, format, true));
                live.add(null);
                continue;
            }
            blk.disk().flush();
            Path overlay = liveOverlay(image, snapshotName);
            BlockImages.create(overlay, "qcow2", -1, image, format);
            BlockBackend next;
            try {
                next = BlockImages.open(overlay, "qcow2", false);
            } catch (IOException e) {
                Files.deleteIfExists(overlay);
                throw e;
            }
            BlockBackend old = blk.replaceBackend(next);
            old.close();
            frozen.add(new DiskSpec(image, format, false));
            now.set(i, new DiskSpec(overlay, "qcow2", false));
            live.add(overlay);
            // the spec follows each switch, so a failure on a later disk leaves it true
            VmSpec.Devices dv = spec.devices();
            spec = spec.withDevices(new VmSpec.Devices(now, dv.nets(), dv.rng(), dv.balloon(), dv.consolePort(), dv.controlSocket()));
            vm.replaceSpec(spec);
        }
        return live;
    }

    /** {@code data.qcow2} snapshotted as {@code s1} goes on in {@code data-s1.qcow2} (or -s1-2... if taken). */
    private static Path liveOverlay(Path image, String snapshotName) {
        String name = image.getFileName().toString();
        String stem = name.replaceFirst("\\.(qcow2|raw|img)$", "");
        Path p = image.resolveSibling(stem + "-" + snapshotName + ".qcow2");
        for (int n = 2; Files.exists(p); n++) p = image.resolveSibling(stem + "-" + snapshotName + "-" + n + ".qcow2");
        return p;
    }

    /** Writes the non-zero pages of {@code memory} at their offsets into a sparse file of its size; returns the bytes written. */
    static long writeRam(GuestMemory memory, Path file) throws IOException {
        long size = memory.size(), written = 0;
        MemorySegment ram = memory.segment();
        MemorySegment zero = MemorySegment.ofArray(new byte[(int) GuestMemory.PAGE_SIZE]);
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(size); // a hole of the whole size; runs of data are written into it
            FileChannel ch = f.getChannel();
            // Pages are examined SCAN at a time by a method of its own: VM processes run without on-stack
            // replacement (see ./visor), so a long loop runs compiled only in a method that is called often.
            for (long off = 0; off < size; ) {
                long chunkEnd = Math.min(size, off + SCAN);
                long start = nextPage(ram, off, chunkEnd, zero, true);
                if (start == chunkEnd) {
                    off = chunkEnd;
                    continue;
                }
                // a run of data pages from start, up to the next zero page or MAX_RUN bytes
                long cap = Math.min(size, start + MAX_RUN), end = start + GuestMemory.PAGE_SIZE;
                while (end < cap) {
                    long limit = Math.min(cap, end + SCAN);
                    long hole = nextPage(ram, end, limit, zero, false);
                    end = hole;
                    if (hole < limit) break;
                }
                written += writeFully(ch, ram.asSlice(start, end - start), start);
                off = end;
            }
            ch.force(true);
        }
        return written;
    }

    /** Bytes of RAM {@link #nextPage} examines per call. */
    private static final long SCAN = 64 * GuestMemory.PAGE_SIZE;

    /** The offset of the first page in [from, to) that holds data ({@code data}) or is all zeros (not {@code data}); else {@code to}. */
    private static long nextPage(MemorySegment ram, long from, long to, MemorySegment zero, boolean data) {
        for (long off = from; off < to; off += GuestMemory.PAGE_SIZE) {
            if ((ram.asSlice(off, GuestMemory.PAGE_SIZE).mismatch(zero) >= 0) == data) return off;
        }
        return to;
    }

    private static long writeFully(FileChannel ch, MemorySegment data, long at) throws IOException {
        var buf = data.asByteBuffer();
        while (buf.hasRemaining()) at += ch.write(buf, at);
        return data.byteSize();
    }

    private static void write(Path file, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            var buf = java.nio.ByteBuffer.wrap(bytes);
            while (buf.hasRemaining()) ch.write(buf);
            ch.force(true);
        }
    }

    private static void syncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException ignored) {
            // not every file system lets a directory be synced; the rename is done either way
        }
    }

    /** Deletes {@code tmp} if it is an unfinished snapshot (only our files in it); refuses anything else. */
    private static void removeLeftover(Path tmp) throws IOException {
        if (!Files.exists(tmp)) return;
        try (Stream<Path> files = Files.list(tmp)) {
            List<Path> list = files.toList();
            for (Path p : list) {
                if (!Set.of(MANIFEST, STATE, RAM).contains(p.getFileName().toString())) {
                    throw new FileAlreadyExistsException(tmp.toString(), null, "exists and is not an unfinished snapshot");
                }
            }
            for (Path p : list) Files.delete(p);
        }
        Files.delete(tmp);
    }

    // ---------------------------------------------------------------- restore

    /**
     * How to restore. Nulls take the snapshot's values.
     *
     * @param overlayDir    where the new disk overlays go (created if needed); null: a new directory
     *                      {@code SNAPSHOT-clone-XXXXXX} beside the snapshot
     * @param nets          network cards replacing the snapshot's (same number and kinds; e.g. other
     *                      port forwards), or null for the snapshot's
     * @param keepMac       give each card the MAC it had (restoring the VM rather than cloning it);
     *                      otherwise a card gets a new random MAC unless its NetSpec names one
     * @param controlSocket the restored VM's control socket, or null for none
     * @param consolePort   where the virtio-console port's output goes (needed if the VM had one)
     * @param cpus          if not null, must equal the snapshot's (a VM keeps its shape)
     * @param memoryBytes   if not null, must equal the snapshot's
     */
    public record RestoreOptions(Path overlayDir, List<NetSpec> nets, boolean keepMac, Path controlSocket, Path consolePort,
                                 Integer cpus, Long memoryBytes) {
        public static final RestoreOptions DEFAULT = new RestoreOptions(null, null, false, null, null, null, null);

        public RestoreOptions withOverlayDir(Path dir) {
            return new RestoreOptions(dir, nets, keepMac, controlSocket, consolePort, cpus, memoryBytes);
        }

        public RestoreOptions withControlSocket(Path socket) {
            return new RestoreOptions(overlayDir, nets, keepMac, socket, consolePort, cpus, memoryBytes);
        }
    }

    /**
     * Builds a VM from the snapshot in {@code dir}, paused: {@link VirtualMachine#start} or
     * {@link VirtualMachine#resume} lets the guest go on. Anything wrong with the snapshot or the
     * options is one line in a {@link VmConfigException}, and then nothing is left behind (no
     * overlay, no thread).
     */
    public static VirtualMachine restore(Path dir, RestoreOptions options, OutputStream console) throws VmConfigException {
        dir = dir.toAbsolutePath().normalize();
        if (!Files.isDirectory(dir)) {
            throw new VmConfigException("no snapshot at " + dir + (Files.exists(dir) ? ": not a directory" : ": no such directory"));
        }
        SnapshotManifest m = SnapshotManifest.read(dir.resolve(MANIFEST));
        if (options.cpus() != null && options.cpus() != m.cpus()) {
            throw new VmConfigException("snapshot " + dir + " is of a VM with " + m.cpus() + " cpus, not " + options.cpus() + " (a restored VM keeps its shape)");
        }
        if (options.memoryBytes() != null && options.memoryBytes() != m.memoryBytes()) {
            throw new VmConfigException("snapshot " + dir + " is of a VM with " + m.memoryBytes() + " bytes of RAM, not "
                    + options.memoryBytes() + " (a restored VM keeps its RAM size)");
        }
        if (m.consolePort() && options.consolePort() == null) {
            throw new VmConfigException("snapshot " + dir + " has a virtio-console port: say where its output goes (--console-port FILE)");
        }
        byte[] state = readState(dir.resolve(STATE));
        Path ram = dir.resolve(RAM);
        try {
            long length = Files.size(ram);
            if (length != m.memoryBytes()) {
                throw new VmConfigException("snapshot RAM " + ram + " has " + length + " bytes, the manifest says " + m.memoryBytes() + " (corrupt?)");
            }
        } catch (NoSuchFileException e) {
            throw new VmConfigException("snapshot RAM " + ram + " is missing (an unfinished snapshot?)");
        } catch (IOException e) {
            throw new VmConfigException("snapshot RAM " + ram + " cannot be read: " + e.getMessage());
        }
        for (DiskSpec d : m.disks()) {
            if (!Files.isRegularFile(d.path())) throw new VmConfigException("snapshot " + dir + ": its disk image " + d.path() + " is missing");
        }
        List<NetSpec> nets = nets(m, options);

        Path overlays = null;
        boolean madeDir = false;
        List<Path> made = new ArrayList<>();
        boolean restored = false;
        try {
            List<DiskSpec> disks = new ArrayList<>();
            for (int i = 0; i < m.disks().size(); i++) {
                DiskSpec d = m.disks().get(i);
                if (d.readOnly()) {
                    disks.add(d);
                    continue;
                }
                if (overlays == null) {
                    overlays = options.overlayDir() != null ? options.overlayDir().toAbsolutePath() : newCloneDir(dir);
                    madeDir = !Files.exists(overlays);
                    Files.createDirectories(overlays);
                }
                Path overlay = overlays.resolve("vd" + (char) ('a' + i) + ".qcow2");
                BlockImages.create(overlay, "qcow2", -1, d.path(), d.format());
                made.add(overlay);
                disks.add(new DiskSpec(overlay, "qcow2", false));
            }
            VmSpec spec = new VmSpec(m.cpus(), m.memoryBytes(), m.kernel(), m.initrd(), m.firmware(), m.append(),
                    new VmSpec.Devices(disks, nets, m.rng(), m.balloon(), options.consolePort(), options.controlSocket()));
            GuestMemory memory;
            try {
                memory = GuestMemory.mapFile(VirtMemoryMap.DRAM.base, m.memoryBytes(), ram);
            } catch (IOException e) {
                throw new VmConfigException("snapshot RAM " + ram + ": " + e.getMessage());
            }
            VirtualMachine vm = VirtualMachine.restore(spec, state, memory, console);
            restored = true; // the VM owns the overlays now
            return vm;
        } catch (IOException e) {
            throw new VmConfigException("snapshot " + dir + ": " + e.getMessage(), e);
        } finally {
            if (!restored) {
                for (Path p : made) deleteQuietly(p);
                if (madeDir) deleteQuietly(overlays);
            }
        }
    }

    private static List<NetSpec> nets(SnapshotManifest m, RestoreOptions o) throws VmConfigException {
        List<NetSpec> given = o.nets() != null ? o.nets() : m.nets();
        if (given.size() != m.nets().size()) {
            throw new VmConfigException("the snapshot's VM has " + m.nets().size() + " network cards, " + given.size() + " were given");
        }
        List<NetSpec> nets = new ArrayList<>();
        for (int i = 0; i < given.size(); i++) {
            NetSpec g = given.get(i), saved = m.nets().get(i);
            byte[] mac = o.nets() != null && g.mac() != null ? g.mac()
                    : o.keepMac() ? saved.mac()
                    : VirtioDevices.randomMac();
            nets.add(new NetSpec(g.kind(), g.target(), mac));
        }
        return nets;
    }

    private static byte[] readState(Path file) throws VmConfigException {
        try {
            if (Files.size(file) > MAX_STATE) throw new VmConfigException("snapshot state " + file + " is larger than 64 MiB (corrupt?)");
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new VmConfigException("snapshot state " + file + " is missing (an unfinished snapshot?)");
        } catch (IOException e) {
            throw new VmConfigException("snapshot state " + file + " cannot be read: " + e.getMessage());
        }
    }

    /** A new directory name beside the snapshot for a clone's disk overlays. */
    private static Path newCloneDir(Path snapshot) {
        byte[] r = new byte[3];
        Path p;
        do {
            new java.security.SecureRandom().nextBytes(r);
            p = snapshot.resolveSibling(snapshot.getFileName() + "-clone-" + HexFormat.of().formatHex(r));
        } while (Files.exists(p));
        return p;
    }

    private static void deleteQuietly(Path p) {
        try {
            if (p != null) Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // best effort: a failed restore reports its own error
        }
    }
}
