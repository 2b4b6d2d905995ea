package dev.visor.vmm;

import dev.visor.block.BlockBackend;
import dev.visor.block.BlockImages;
import dev.visor.board.virt.VirtBoard;
import dev.visor.devices.virtio.VirtioDevice;
import dev.visor.devices.virtio.balloon.VirtioBalloon;
import dev.visor.devices.virtio.blk.VirtioBlk;
import dev.visor.devices.virtio.console.VirtioConsole;
import dev.visor.devices.virtio.net.VirtioNet;
import dev.visor.devices.virtio.rng.VirtioRng;
import dev.visor.net.NetBackend;
import dev.visor.net.l2.SwitchPort;
import dev.visor.net.l2.TapBackend;
import dev.visor.net.user.UserNetwork;
import dev.visor.net.user.UserNetworkConfig;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds a VM's virtio devices from its {@link VmSpec.Devices} and puts them on the board: opens
 * the disk images and network backends first, and if any of them fails, closes what was opened
 * and reports the failure as one line, so a bad option leaves nothing half-made.
 */
final class VirtioDevices {
    final List<VirtioBlk> disks = new ArrayList<>();
    final List<VirtioNet> nets = new ArrayList<>();
    VirtioBalloon balloon;
    VirtioConsole console;

    private VirtioDevices() {}

    static VirtioDevices attach(VirtBoard board, VmSpec.Devices spec) throws VmConfigException {
        return attach(board, spec, null);
    }

    /**
     * As {@link #attach(VirtBoard, VmSpec.Devices)}, but with {@code laterDisks} (a migration's
     * destination built ahead of the switch-over) each disk gets a {@link PendingDisk} of the source's
     * size in its place, and {@link #openLaterDisks} opens the real images.
     */
    static VirtioDevices attach(VirtBoard board, VmSpec.Devices spec, List<VirtualMachine.ShapeDisk> laterDisks)
            throws VmConfigException {
        if (laterDisks != null && laterDisks.size() != spec.disks().size()) {
            throw new VmConfigException("the source has " + laterDisks.size() + " disks, this VM " + spec.disks().size());
        }
        if (spec.slots() > board.freeVirtioSlots()) {
            throw new VmConfigException("too many devices: the board has " + board.freeVirtioSlots()
                    + " virtio slots and " + spec.slots() + " were asked for");
        }
        VirtioDevices d = new VirtioDevices();
        List<AutoCloseable> opened = new ArrayList<>();
        List<VirtioDevice> devices = new ArrayList<>();
        try {
            int index = 0;
            for (DiskSpec disk : spec.disks()) {
                String name = "vd" + (char) ('a' + index++);
                BlockBackend backend = laterDisks != null
                        ? new PendingDisk(laterDisks.get(index - 1).size(), disk.readOnly(), laterDisks.get(index - 1).format())
                        : open(disk);
                opened.add(backend);
                VirtioBlk blk = new VirtioBlk(board.memory, backend, name);
                d.disks.add(blk);
                devices.add(blk);
            }
            for (NetSpec net : spec.nets()) {
                NetBackend backend = openNet(net);
                opened.add(backend);
                VirtioNet nic = new VirtioNet(board.memory, net.mac() != null ? net.mac() : randomMac(), backend);
                d.nets.add(nic);
                devices.add(nic);
            }
            if (spec.rng()) devices.add(new VirtioRng(board.memory));
            if (spec.balloon()) {
                d.balloon = new VirtioBalloon(board.memory);
                devices.add(d.balloon);
            }
            if (spec.consolePort() != null) {
                OutputStream out;
                try {
                    out = Files.newOutputStream(spec.consolePort());
                } catch (IOException e) {
                    throw new VmConfigException("--console-port " + spec.consolePort() + ": " + e.getMessage(), e);
                }
                opened.add(out);
                d.console = new VirtioConsole(board.memory, out);
                devices.add(d.console);
            }
        } catch (VmConfigException | RuntimeException e) {
            for (VirtioDevice v : devices) v.close();
            for (AutoCloseable c : opened) closeQuietly(c);
            throw e;
        } catch (IOException e) {
            for (VirtioDevice v : devices) v.close();
            for (AutoCloseable c : opened) closeQuietly(c);
            throw new VmConfigException(e.getMessage(), e);
        }
        for (VirtioDevice v : devices) board.addVirtio(v);
        return d;
    }

    private static BlockBackend open(DiskSpec disk) throws VmConfigException {
        try {
            return BlockImages.open(disk.path(), disk.format(), disk.readOnly());
        } catch (IOException e) {
            throw new VmConfigException("--disk " + disk.path() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Opens {@code disks} (in slot order) in place of the {@link PendingDisk}s {@link #attach} put
     * there. Each must have its placeholder's size and read-only flag (what the guest was told);
     * if one cannot be opened or differs, those opened are closed again and the placeholders stay.
     */
    void openLaterDisks(List<DiskSpec> disks) throws VmConfigException {
        if (disks.size() != this.disks.size()) throw new IllegalArgumentException(disks.size() + " disks for " + this.disks.size() + " slots");
        List<BlockBackend> opened = new ArrayList<>();
        try {
            for (int i = 0; i < disks.size(); i++) {
                if (!(this.disks.get(i).disk() instanceof PendingDisk pending)) throw new IllegalStateException("disk " + i + " is open already");
                BlockBackend b = open(disks.get(i));
                opened.add(b);
                if (b.size() != pending.size() || b.readOnly() != pending.readOnly()) {
                    throw new VmConfigException("--disk " + disks.get(i).path() + ": has " + b.size() + " bytes"
                            + (b.readOnly() ? " (read-only)" : "") + ", the source's disk " + pending.size());
                }
            }
        } catch (VmConfigException | RuntimeException e) {
            for (BlockBackend b : opened) closeQuietly(b);
            throw e;
        }
        for (int i = 0; i < disks.size(); i++) this.disks.get(i).replaceBackend(opened.get(i));
    }

    private static NetBackend openNet(NetSpec net) throws VmConfigException, IOException {
        return switch (net.kind()) {
            case USER -> {
                UserNetworkConfig config;
                try {
                    config = UserNetworkConfig.parse(net.target());
                } catch (IllegalArgumentException e) {
                    throw new VmConfigException("--net user," + net.target() + ": " + e.getMessage());
                }
                yield new UserNetwork(config);
            }
            case SWITCH -> SwitchPort.connect(Path.of(net.target()));
            case TAP -> TapBackend.open(net.target());
        };
    }

    /** A random locally administered unicast MAC in QEMU's 52:54:00 range, so VMs on one switch differ. */
    static byte[] randomMac() {
        byte[] mac = {0x52, 0x54, 0x00, 0, 0, 0};
        byte[] r = new byte[3];
        new SecureRandom().nextBytes(r);
        System.arraycopy(r, 0, mac, 3, 3);
        return mac;
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // already failing; the first error is the one reported
        }
    }
}
