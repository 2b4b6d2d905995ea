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
                BlockBackend backend;
                try {
                    backend = BlockImages.open(disk.path(), disk.format(), disk.readOnly());
                } catch (IOException e) {
                    throw new VmConfigException("--disk " + disk.path() + ": " + e.getMessage(), e);
                }
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
