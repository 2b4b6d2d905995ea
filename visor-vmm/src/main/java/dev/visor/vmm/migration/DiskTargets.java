package dev.visor.vmm.migration;

import dev.visor.block.BlockBackend;
import dev.visor.block.BlockImages;
import dev.visor.block.ImageInfo;
import dev.visor.vmm.DiskSpec;
import dev.visor.vmm.VirtualMachine;
import dev.visor.vmm.VmSpec;

import java.io.DataInputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * The receiving half of a storage migration: the destination's image files for the source's
 * writable disks, written from DISK / DISK_ZERO messages ({@link MigrationProtocol}).
 *
 * <pre>
 *   DiskTargets t = DiskTargets.prepare(spec, VirtualMachine.shapeDisks(shape));   // creates missing files
 *   t.receive(type, in);      // for each DISK or DISK_ZERO message
 *   VmSpec s = t.finish(spec);   // flushed and closed; the spec names each copy with its format
 *   ... or on any failure: t.discard();   // deletes the files it created
 * </pre>
 *
 * A target that does not exist is created with the source disk's virtual size, in the format its
 * {@code --disk ...,format=} names (else the source disk's format), and deleted again if the
 * migration fails. An existing target must have the source's virtual size; it is overwritten
 * (zero chunks written as zeros) and left in place, partly written, if the migration fails.
 * Only the migration's receiving thread calls it.
 */
final class DiskTargets {
    /** One copy being written: the VM's disk index, its file and format, and whether this migration made the file. */
    private static final class Target {
        final int index;
        final Path path;
        final String format;
        final boolean created;
        final long size;
        BlockBackend backend;
        /** Chunks written with data: a zero chunk there must be written (else a fresh file is zero already). */
        final BitSet written = new BitSet();

        Target(int index, Path path, String format, boolean created, long size) {
            this.index = index;
            this.path = path;
            this.format = format;
            this.created = created;
            this.size = size;
        }
    }

    private final Target[] byIndex;
    private final List<Target> targets;
    private final byte[] buffer = new byte[MigrationProtocol.MAX_DISK_CHUNK];
    private final MemorySegment segment = MemorySegment.ofArray(buffer);
    /** Disk payload bytes received. */
    private long dataBytes;

    private DiskTargets(Target[] byIndex, List<Target> targets) {
        this.byIndex = byIndex;
        this.targets = targets;
    }

    /**
     * Creates or opens the image for each writable disk of the source. Throws a MigrationException
     * with a reason for the source (nothing is left behind) when a target cannot be used.
     */
    static DiskTargets prepare(VmSpec spec, List<VirtualMachine.ShapeDisk> source) throws MigrationException {
        Target[] byIndex = new Target[source.size()];
        List<Target> targets = new ArrayList<>();
        DiskTargets t = new DiskTargets(byIndex, targets);
        try {
            for (int i = 0; i < source.size(); i++) {
                VirtualMachine.ShapeDisk from = source.get(i);
                if (from.readOnly()) continue; // shared: the shape check made sure it is the same file
                DiskSpec to = spec.devices().disks().get(i);
                if (from.size() <= 0) throw new MigrationException("the source did not say the size of disk " + i);
                Target target;
                if (Files.exists(to.path())) {
                    String key = VirtualMachine.fileKey(to.path());
                    if (key != null && key.equals(from.fileKey())) {
                        throw new MigrationException("disk " + i + ": " + to.path() + " is the source's own image; with copy-storage=on "
                                + "the destination names another file (or migrate without copy-storage on shared storage)");
                    }
                    ImageInfo info = BlockImages.info(to.path());
                    if (info.virtualSize() != from.size()) {
                        throw new MigrationException("disk " + i + ": " + to.path() + " has a virtual size of " + info.virtualSize()
                                + " bytes, the source's disk " + from.size());
                    }
                    if (info.backingFile() != null) {
                        throw new MigrationException("disk " + i + ": " + to.path() + " has a backing file; a copy goes into a standalone image");
                    }
                    target = new Target(i, to.path(), to.format() != null ? to.format() : info.format(), false, from.size());
                } else {
                    String format = to.format() != null ? to.format() : from.format() != null ? from.format() : "raw";
                    BlockImages.create(to.path(), format, from.size(), null, null);
                    target = new Target(i, to.path(), format, true, from.size());
                }
                targets.add(target);
                byIndex[i] = target;
                target.backend = BlockImages.open(target.path, target.format, false);
                if (target.backend.size() != from.size()) {
                    throw new MigrationException("disk " + i + ": " + to.path() + " came out with " + target.backend.size()
                            + " bytes, the source's disk has " + from.size());
                }
            }
            return t;
        } catch (IOException e) {
            t.discard();
            throw e instanceof MigrationException m ? m : new MigrationException("cannot make the disk copy: " + e.getMessage(), e);
        }
    }

    /** Disks being copied. */
    int count() { return targets.size(); }

    long dataBytes() { return dataBytes; }

    /** Reads the rest of a DISK or DISK_ZERO message ({@code type} read already) and writes it to its target. */
    void receive(int type, DataInputStream in) throws IOException {
        int disk = in.readUnsignedByte();
        long offset = in.readLong();
        int length = in.readInt();
        Target t = disk < byIndex.length ? byIndex[disk] : null;
        if (t == null) throw new MigrationException("protocol error: disk " + disk + " is not being copied");
        if (offset < 0 || offset % MigrationProtocol.DISK_CHUNK != 0 || length < 1 || length > MigrationProtocol.MAX_DISK_CHUNK
                || offset > t.size - length) {
            throw new MigrationException("protocol error: disk " + disk + " range " + offset + "+" + length + " is not a chunk of the disk");
        }
        int chunk = (int) (offset / MigrationProtocol.DISK_CHUNK);
        if (type == MigrationProtocol.DISK) {
            in.readFully(buffer, 0, length);
            t.backend.write(offset, segment.asSlice(0, length));
            t.written.set(chunk);
            dataBytes += length;
        } else if (!t.created || t.written.get(chunk)) {
            t.backend.writeZeroes(offset, length);
            t.written.clear(chunk);
        }
    }

    /** Makes what was written so far durable (between rounds, so the switch-over's flush has little left). */
    void flush() throws IOException {
        for (Target t : targets) t.backend.flush();
    }

    /**
     * Makes the copies durable and closes them (the VM opens them by path), and returns {@code spec}
     * with each copied disk's format named.
     */
    VmSpec finish(VmSpec spec) throws IOException {
        List<DiskSpec> disks = new ArrayList<>(spec.devices().disks());
        for (Target t : targets) {
            t.backend.flush();
            t.backend.close();
            t.backend = null;
            disks.set(t.index, new DiskSpec(t.path, t.format, false));
        }
        VmSpec.Devices d = spec.devices();
        return spec.withDevices(new VmSpec.Devices(disks, d.nets(), d.rng(), d.balloon(), d.consolePort(), d.controlSocket()));
    }

    /** After a failure: closes the copies and deletes those this migration created. Never throws. */
    void discard() {
        for (Target t : targets) {
            try {
                if (t.backend != null) t.backend.close();
            } catch (IOException ignored) {
                // deleting it anyway
            }
            t.backend = null;
            try {
                if (t.created) Files.deleteIfExists(t.path);
            } catch (IOException ignored) {
                // nothing more to do; the error that ended the migration is the one reported
            }
        }
    }

    /** The files this migration created (deleted by {@link #discard}). */
    List<Path> createdFiles() {
        List<Path> out = new ArrayList<>();
        for (Target t : targets) if (t.created) out.add(t.path);
        return out;
    }
}
