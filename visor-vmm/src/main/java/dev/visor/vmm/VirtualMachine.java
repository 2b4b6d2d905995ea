package dev.visor.vmm;

import dev.visor.board.virt.BootException;
import dev.visor.board.virt.BootLoader;
import dev.visor.board.virt.VirtBoard;
import dev.visor.devices.syscon.PowerListener;
import dev.visor.engine.riscv.HartGroup;

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
 * </pre>
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

    private VirtualMachine(VmSpec spec, OutputStream out) throws VmConfigException {
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
        board = new VirtBoard(spec.cpus(), spec.memoryBytes(), console, power, engine);
        try {
            devices = VirtioDevices.attach(board, spec.devices());
        } catch (VmConfigException e) {
            board.stop();
            throw e;
        }
        try {
            BootLoader.load(board, new BootLoader.BootFiles(spec.firmware(), spec.kernel(), spec.initrd(),
                    spec.append() == null ? VmSpec.DEFAULT_APPEND : spec.append(), "riscv,sv48"));
        } catch (BootException e) {
            board.stop();
            throw new VmConfigException(e.getMessage());
        }
    }

    public static VirtualMachine build(VmSpec spec, OutputStream console) throws VmConfigException {
        VirtualMachine vm = new VirtualMachine(spec, console);
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

    public void start() { board.start(); }

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

    public void pause() { board.harts.pause(); board.clock.pause(); }

    public void resume() { board.clock.resume(); board.harts.resume(); }

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
