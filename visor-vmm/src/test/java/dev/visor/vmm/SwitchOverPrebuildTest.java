package dev.visor.vmm;

import dev.visor.block.BlockImages;
import dev.visor.board.virt.VirtMemoryMap;
import dev.visor.images.GuestImage;
import dev.visor.images.ImageException;
import dev.visor.images.ImageStore;
import dev.visor.machine.GuestMemory;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A migration destination's VM built ahead of the switch-over ({@link VirtualMachine#prebuildForSwitchOver}):
 * its disks are placeholders of the source's sizes until the state arrives, it then holds exactly the
 * source's state and runs; a source whose shape changed meanwhile, or a disk that cannot be opened,
 * is refused and leaves the prebuilt VM to be thrown away, so the switch-over can build afresh.
 */
class SwitchOverPrebuildTest {
    static final long MEMORY = 64L << 20;

    @TempDir
    Path dir;

    private VmSpec spec;
    private VirtualMachine source;

    @BeforeEach
    void pausedSource() throws Exception {
        GuestImage image;
        try {
            image = new ImageStore().defaultImage(System.err);
        } catch (ImageException e) {
            image = null;
        }
        assumeTrue(image != null, "the default guest image cannot be obtained");
        Path raw = dir.resolve("a.raw"), qcow2 = dir.resolve("b.qcow2");
        BlockImages.create(raw, "raw", 4L << 20, null, null);
        BlockImages.create(qcow2, "qcow2", 8L << 20, null, null);
        spec = new VmSpec(1, MEMORY, image.kernel(), image.initrd(), image.firmware(), VmSpec.DEFAULT_APPEND,
                new VmSpec.Devices(List.of(new DiskSpec(raw, "raw", false), new DiskSpec(qcow2, null, false)),
                        List.of(), true, false, null, null));
        source = VirtualMachine.build(spec, new ByteArrayOutputStream());
        source.pause();
    }

    private static GuestMemory ramOf(VirtualMachine vm) {
        GuestMemory ram = new GuestMemory(VirtMemoryMap.DRAM.base, vm.memoryBytes());
        ram.segment().copyFrom(vm.board().memory.segment());
        return ram;
    }

    @Test
    void takesTheSourceStateAndRuns() throws Exception {
        byte[] shape = source.shape(), state = source.saveState();
        VirtualMachine vm = VirtualMachine.prebuildForSwitchOver(spec, shape, ramOf(source), new ByteArrayOutputStream(), false);
        try {
            assertEquals(2, vm.disks().size());
            assertInstanceOf(PendingDisk.class, vm.disks().get(0).disk(), "no image is opened before the state arrives");
            assertEquals(4L << 20, vm.disks().get(0).disk().size());
            assertEquals(8L << 20, vm.disks().get(1).disk().size());
            assertThrows(IOException.class, () -> vm.disks().get(0).disk().read(0, Arena.ofAuto().allocate(512)));
            assertThrows(IllegalStateException.class, vm::resume, "no guest runs without its state");

            vm.completeSwitchOver(spec, state, false);
            assertEquals("raw", vm.disks().get(0).disk().format());
            assertEquals("qcow2", vm.disks().get(1).disk().format());
            assertTrue(vm.isPaused());
            assertArrayEquals(state, vm.saveState(), "the VM holds exactly the source's state");
            assertThrows(IllegalStateException.class, () -> vm.completeSwitchOver(spec, state, false), "the state is set once");

            vm.resume();
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (vm.instructionsRetired() == 0 && System.nanoTime() < deadline) Thread.sleep(10);
            assertTrue(vm.instructionsRetired() > 0, "the guest runs after the resume");
        } finally {
            vm.stop();
            source.stop();
        }
    }

    @Test
    void aShapeChangedMeanwhileIsRefusedAndTheSwitchOverBuildsAfresh() throws Exception {
        byte[] shape = source.shape();
        source.disks().get(0).resize(6L << 20); // the source grew a disk during the migration
        byte[] state = source.saveState();
        GuestMemory ram = ramOf(source);
        VirtualMachine ahead = VirtualMachine.prebuildForSwitchOver(spec, shape, ram, new ByteArrayOutputStream(), false);
        VmConfigException e = assertThrows(VmConfigException.class, () -> ahead.completeSwitchOver(spec, state, false));
        assertTrue(e.getMessage().contains("shape changed"), e.getMessage());
        ahead.discardPrebuilt();

        VirtualMachine vm = VirtualMachine.restoreForSwitchOver(spec, state, ram, new ByteArrayOutputStream(), false);
        try {
            assertEquals(6L << 20, vm.disks().get(0).disk().size(), "built afresh, the VM has the grown disk");
            assertArrayEquals(state, vm.saveState());
        } finally {
            vm.stop();
            source.stop();
        }
    }

    @Test
    void aConsolePortIsLeftToTheSwitchOver() throws Exception {
        source.stop();
        Path port = dir.resolve("port.log");
        VmSpec withPort = spec.withDevices(new VmSpec.Devices(spec.devices().disks(), List.of(), true, false, port, null));
        VirtualMachine vm = VirtualMachine.build(withPort, new ByteArrayOutputStream());
        try {
            vm.pause();
            Files.writeString(port, "the source's output so far\n");
            VmConfigException e = assertThrows(VmConfigException.class, () -> VirtualMachine.prebuildForSwitchOver(withPort, vm.shape(),
                    ramOf(vm), new ByteArrayOutputStream(), false));
            assertTrue(e.getMessage().contains("console-port"), e.getMessage());
            assertEquals("the source's output so far\n", Files.readString(port), "the file is not truncated before the switch-over");
        } finally {
            vm.stop();
        }
    }

    @Test
    void aDiskThatCannotBeOpenedIsRefusedAndNothingStaysOpen() throws Exception {
        byte[] shape = source.shape(), state = source.saveState();
        source.stop();
        VirtualMachine ahead = VirtualMachine.prebuildForSwitchOver(spec, shape, ramOf(source), new ByteArrayOutputStream(), false);
        Files.delete(spec.devices().disks().get(1).path());
        VmConfigException e = assertThrows(VmConfigException.class, () -> ahead.completeSwitchOver(spec, state, false));
        assertTrue(e.getMessage().contains("b.qcow2"), e.getMessage());
        assertInstanceOf(PendingDisk.class, ahead.disks().get(0).disk(), "the disk opened before the failure is closed again");
        ahead.discardPrebuilt();
    }
}
