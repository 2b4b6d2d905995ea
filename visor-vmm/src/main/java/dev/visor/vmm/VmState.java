package dev.visor.vmm;

import dev.visor.board.virt.VirtBoard;
import dev.visor.devices.virtio.VirtioMmio;
import dev.visor.engine.riscv.HartState;
import dev.visor.machine.state.StateException;
import dev.visor.machine.state.StateReader;
import dev.visor.machine.state.StateTree;
import dev.visor.machine.state.StateWriter;
import dev.visor.machine.state.Stateful;

import java.util.ArrayList;
import java.util.List;

/**
 * A whole VM's device state as one {@link StateTree}: which records there are, under which ids, and
 * in which order they are restored. Guest RAM is not part of it (see {@link RamSource}).
 *
 * <pre>
 *   vm        the shape (cpus, RAM, disks, nets...), checked against the VM being restored into
 *   clock     the timebase: guest time continues from where it stood
 *   hart0..N  each hart's registers and CSRs
 *   plic, clint, uart0, rtc, syscon
 *   virtioI   the transport in slot I (queues, features, status); virtioI.dev the device's own state
 * </pre>
 * Restore order: clock, harts, then the interrupt controllers (which drive the harts' inputs from
 * their restored state), then the devices that raise interrupts, transports before their devices.
 */
final class VmState {
    static final String SHAPE = "vm";

    private VmState() {}

    /** The state of a paused VM. */
    static StateTree capture(VirtBoard board, VmSpec spec) {
        StateTree tree = new StateTree();
        tree.save(SHAPE, shape(spec, board));
        tree.save(board.clock);
        for (int i = 0; i < board.harts.count(); i++) tree.save(new HartState(board.harts.hart(i)));
        tree.save(board.plic);
        tree.save(board.clint);
        tree.save(board.uart);
        tree.save(board.rtc);
        tree.save(board.syscon);
        for (int i = 0; i < board.virtioSlotCount(); i++) {
            VirtioMmio t = board.virtioSlot(i);
            if (t == null || t.device() == null) continue;
            tree.save("virtio" + i, t);
            tree.save("virtio" + i + ".dev", t.device());
        }
        return tree;
    }

    /** Sets a freshly built, not yet running VM to {@code tree}. */
    static void apply(VirtBoard board, VmSpec spec, StateTree tree, boolean disksCopied) throws StateException {
        checkShape(tree.reader(SHAPE), spec, disksCopied);
        tree.restore(board.clock);
        for (int i = 0; i < board.harts.count(); i++) tree.restore(new HartState(board.harts.hart(i)));
        tree.restore(board.plic);
        tree.restore(board.clint);
        tree.restore(board.uart);
        tree.restore(board.rtc);
        tree.restore(board.syscon);
        for (int i = 0; i < board.virtioSlotCount(); i++) {
            VirtioMmio t = board.virtioSlot(i);
            String id = "virtio" + i;
            if (t == null || t.device() == null) {
                if (tree.has(id)) throw new StateException("the state has a device in virtio slot " + i + ", this VM has none there");
                continue;
            }
            tree.restore(id, t);
            tree.restore(id + ".dev", t.device());
        }
    }

    /**
     * Runs the save and restore path {@code rounds} times on a small throwaway board with {@code cpus}
     * harts and one virtio device. A migration's destination calls it while the pages stream in, so
     * that class loading and first-run costs of a cold JVM (tens of milliseconds) are paid before the
     * guest is paused, not in its downtime; more rounds get the JIT going (decoding a 3 KB state took
     * 2 ms after 10 runs, 0.3 ms after 100). Failures are ignored: the real restore reports its own.
     */
    static void warmUp(int cpus, int rounds) {
        dev.visor.devices.syscon.PowerListener power = new dev.visor.devices.syscon.PowerListener() {
            @Override public void powerOff(int code) { }
            @Override public void reset() { }
        };
        dev.visor.engine.riscv.HartGroup.Listener engine = new dev.visor.engine.riscv.HartGroup.Listener() {
            @Override public void htifExit(int code) { }
            @Override public void engineFailure(int hart, Throwable error) { }
        };
        VirtBoard board = null;
        try {
            board = new VirtBoard(cpus, 16L << 20, java.io.OutputStream.nullOutputStream(), power, engine);
            board.addVirtio(new dev.visor.devices.virtio.rng.VirtioRng(board.memory));
            VmSpec spec = new VmSpec(cpus, 16L << 20, null, null, null, "",
                    new VmSpec.Devices(List.of(), List.of(), true, false, null, null));
            for (int i = 0; i < rounds; i++) {
                StateTree tree = StateTree.decode(capture(board, spec).encode());
                apply(board, spec, tree, false);
                sameShape(tree, shapeOnly(board, spec).encode());
                specForRestore(spec, tree, false);
            }
        } catch (StateException | RuntimeException e) {
            // only a warm-up
        } finally {
            if (board != null) board.stop();
        }
    }

    /** Only the shape record: what a migration's destination checks before it accepts anything. */
    static StateTree shapeOnly(VirtBoard board, VmSpec spec) {
        StateTree tree = new StateTree();
        tree.save(SHAPE, shape(spec, board));
        return tree;
    }

    /**
     * Refuses {@code spec} unless it has the shape saved in {@code tree}, naming the first difference.
     * With {@code disksCopied} (a storage migration) the writable disks may be other files of other
     * formats: their contents are copied into them; the sizes are checked where the copy is made.
     */
    static void checkShape(StateTree tree, VmSpec spec, boolean disksCopied) throws StateException {
        checkShape(tree.reader(SHAPE), spec, disksCopied);
    }

    /** True when the shape record of {@code state} is the one {@code shape} ({@link #shapeOnly}, encoded) holds. */
    static boolean sameShape(StateTree state, byte[] shape) throws StateException {
        StateTree only = new StateTree();
        state.reader(SHAPE); // refuses a state without one
        only.add(state.get(SHAPE));
        return java.util.Arrays.equals(only.encode(), shape);
    }

    /** The disks of a saved shape, in slot order. */
    static List<VirtualMachine.ShapeDisk> disks(StateTree tree) throws StateException {
        StateReader r = tree.reader(SHAPE);
        List<VirtualMachine.ShapeDisk> out = new ArrayList<>();
        int n = r.getInt("disks", 0);
        if (n < 0 || n > 64) throw new StateException("the shape has " + n + " disks");
        for (int i = 0; i < n; i++) {
            out.add(new VirtualMachine.ShapeDisk(r.getString("disk" + i + ".path", ""), r.getString("disk" + i + ".imageFormat", null),
                    r.getLong("disk" + i + ".size", -1), r.getBool("disk" + i + ".readOnly", false), r.getString("disk" + i + ".fileKey", null)));
        }
        return out;
    }

    /**
     * The spec to build the restored VM from: {@code spec} with each network card's MAC taken from
     * the state when the spec leaves it to the VMM (the guest knows its MAC; it must not change).
     */
    static VmSpec specForRestore(VmSpec spec, StateTree tree, boolean disksCopied) throws StateException {
        StateReader r = tree.reader(SHAPE);
        checkShape(r, spec, disksCopied);
        List<NetSpec> nets = new ArrayList<>();
        for (int i = 0; i < spec.devices().nets().size(); i++) {
            NetSpec n = spec.devices().nets().get(i);
            byte[] mac = r.getBytes("net" + i + ".mac", null);
            nets.add(n.mac() == null && mac != null && mac.length == 6 ? new NetSpec(n.kind(), n.target(), mac) : n);
        }
        VmSpec.Devices d = spec.devices();
        return spec.withDevices(new VmSpec.Devices(d.disks(), nets, d.rng(), d.balloon(), d.consolePort(), d.controlSocket()));
    }

    // ---------------------------------------------------------------- the VM's shape

    private static Stateful shape(VmSpec spec, VirtBoard board) {
        return new Stateful() {
            @Override public String stateId() { return SHAPE; }

            @Override
            public void saveState(StateWriter w) {
                w.putInt("cpus", spec.cpus());
                w.putLong("memory", spec.memoryBytes());
                VmSpec.Devices d = spec.devices();
                w.putInt("disks", d.disks().size());
                for (int i = 0; i < d.disks().size(); i++) {
                    DiskSpec disk = d.disks().get(i);
                    w.putString("disk" + i + ".path", disk.path().toAbsolutePath().normalize().toString());
                    if (disk.format() != null) w.putString("disk" + i + ".format", disk.format());
                    w.putBool("disk" + i + ".readOnly", disk.readOnly());
                    String key = fileKey(disk.path());
                    if (key != null) w.putString("disk" + i + ".fileKey", key);
                }
                int blk = 0;
                for (VirtioMmio t : board.virtioDevices()) {
                    if (t.device() instanceof dev.visor.devices.virtio.blk.VirtioBlk b) {
                        w.putLong("disk" + blk + ".size", b.disk().size());
                        w.putString("disk" + blk++ + ".imageFormat", b.disk().format());
                    }
                }
                w.putInt("nets", d.nets().size());
                for (int i = 0; i < d.nets().size(); i++) w.putString("net" + i + ".kind", d.nets().get(i).kind().name());
                int slot = 0;
                for (VirtioMmio t : board.virtioDevices()) {
                    if (t.device() instanceof dev.visor.devices.virtio.net.VirtioNet) {
                        w.putBytes("net" + slot++ + ".mac", macOf(t));
                    }
                }
                w.putBool("rng", d.rng());
                w.putBool("balloon", d.balloon());
                w.putBool("consolePort", d.consolePort() != null);
            }

            @Override public void restoreState(StateReader r) { }
        };
    }

    private static byte[] macOf(VirtioMmio t) {
        byte[] mac = new byte[6];
        for (int i = 0; i < 6; i++) mac[i] = (byte) t.device().readConfig(i, 1);
        return mac;
    }

    /**
     * Which file a disk is, across hosts: the host's name and the file system's key (device and
     * inode). A storage migration refuses to copy a disk onto the very file it is read from.
     */
    static String fileKey(java.nio.file.Path path) {
        try {
            Object key = java.nio.file.Files.readAttributes(path, java.nio.file.attribute.BasicFileAttributes.class).fileKey();
            return key == null ? null : java.net.InetAddress.getLocalHost().getHostName() + ":" + key;
        } catch (java.io.IOException e) {
            return null;
        }
    }

    /** Refuses a VM of another shape than the saved one, naming the first difference. */
    private static void checkShape(StateReader r, VmSpec spec, boolean disksCopied) throws StateException {
        r.requireVersion(1);
        VmSpec.Devices d = spec.devices();
        differ("--cpus", r.getInt("cpus", -1), spec.cpus());
        differ("--memory (bytes)", r.getLong("memory", -1), spec.memoryBytes());
        differ("number of disks", r.getInt("disks", 0), d.disks().size());
        for (int i = 0; i < d.disks().size(); i++) {
            DiskSpec disk = d.disks().get(i);
            String path = disk.path().toAbsolutePath().normalize().toString();
            String saved = r.getString("disk" + i + ".path", path);
            boolean savedReadOnly = r.getBool("disk" + i + ".readOnly", disk.readOnly());
            if (disksCopied && !savedReadOnly) { // its contents are copied into whatever file this VM names
                if (disk.readOnly()) throw new StateException("disk " + i + " is writable at the source, " + disk.path() + " is read-only here");
                continue;
            }
            boolean overlay = !saved.equals(path) && overlayOf(disk.path(), saved);
            if (!saved.equals(path) && !overlay) {
                throw new StateException("disk " + i + " was " + saved + " when saved, not " + path + " (nor an overlay on it)");
            }
            String format = r.getString("disk" + i + ".format", null);
            if (!overlay && format != null && disk.format() != null && !format.equals(disk.format())) {
                throw new StateException("disk " + saved + " was format " + format + " when saved, not " + disk.format());
            }
            if (r.getBool("disk" + i + ".readOnly", disk.readOnly()) != disk.readOnly()) {
                throw new StateException("disk " + saved + " was " + (disk.readOnly() ? "writable" : "read-only") + " when saved");
            }
        }
        differ("number of network cards", r.getInt("nets", 0), d.nets().size());
        for (int i = 0; i < d.nets().size(); i++) {
            String kind = r.getString("net" + i + ".kind", d.nets().get(i).kind().name());
            if (!kind.equals(d.nets().get(i).kind().name())) {
                throw new StateException("network card " + i + " was " + kind.toLowerCase() + " when saved, not " + d.nets().get(i).kind().name().toLowerCase());
            }
        }
        differ("rng", r.getBool("rng", false), d.rng());
        differ("balloon", r.getBool("balloon", false), d.balloon());
        differ("console port", r.getBool("consolePort", false), d.consolePort() != null);
    }

    /** True when {@code image} is a qcow2 overlay whose backing file is {@code saved}: the saved disk, with writes kept apart. */
    private static boolean overlayOf(java.nio.file.Path image, String saved) {
        try {
            dev.visor.block.ImageInfo info = dev.visor.block.BlockImages.info(image);
            if (info.backingFile() == null) return false;
            java.nio.file.Path dir = image.toAbsolutePath().getParent();
            java.nio.file.Path backing = dir.resolve(info.backingFile()).normalize();
            return backing.toString().equals(saved) || java.nio.file.Files.isSameFile(backing, java.nio.file.Path.of(saved));
        } catch (java.io.IOException e) {
            return false;
        }
    }

    private static void differ(String what, Object saved, Object now) throws StateException {
        if (!saved.equals(now)) throw new StateException("the VM was saved with " + what + " " + saved + ", this one has " + now);
    }
}
