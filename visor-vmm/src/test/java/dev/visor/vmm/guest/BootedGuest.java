package dev.visor.vmm.guest;

import dev.visor.images.GuestImage;
import dev.visor.vmm.VirtualMachine;
import dev.visor.vmm.VmSpec;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A Debian guest booted from the default image in this process, with the given devices, at its
 * shell prompt. For device tests: {@code try (BootedGuest g = BootedGuest.boot(image, devices)) {...}}.
 */
public final class BootedGuest implements AutoCloseable {
    public static final Duration BOOT_TIMEOUT = Duration.ofSeconds(120);
    public static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(90);
    static final String READY_MARKER = "visor: shell ready";

    public final VirtualMachine vm;
    public final GuestConsole console;

    private BootedGuest(VirtualMachine vm, GuestConsole console) {
        this.vm = vm;
        this.console = console;
    }

    /** The default guest image (pulled on first use); the calling test is skipped when it cannot be had. */
    public static GuestImage defaultImage() {
        try {
            return new dev.visor.images.ImageStore().defaultImage(System.err);
        } catch (dev.visor.images.ImageException e) {
            org.junit.jupiter.api.Assumptions.abort("the default guest image cannot be obtained: " + e.getMessage());
            return null;
        }
    }

    public static BootedGuest boot(GuestImage image, VmSpec.Devices devices) throws Exception {
        return boot(image, devices, VmSpec.DEFAULT_APPEND, 1);
    }

    public static BootedGuest boot(GuestImage image, VmSpec.Devices devices, String append, int cpus) throws Exception {
        GuestConsole console = new GuestConsole();
        VmSpec spec = new VmSpec(cpus, VmSpec.DEFAULT_MEMORY, image.kernel(), image.initrd(), image.firmware(), append, devices);
        VirtualMachine vm = VirtualMachine.build(spec, console);
        console.connect(vm::consoleInput);
        vm.start();
        try {
            console.waitFor(READY_MARKER, BOOT_TIMEOUT);
            console.waitForPrompt(BOOT_TIMEOUT);
            // Long command lines must not wrap at 80 columns: the console's echo is matched verbatim.
            console.run("stty cols 1000", COMMAND_TIMEOUT);
        } catch (Throwable t) {
            vm.stop();
            if (vm.failure() != null) throw new AssertionError(vm.failure() + "\n" + t.getMessage(), t);
            throw t;
        }
        return new BootedGuest(vm, console);
    }

    public String run(String command) throws Exception {
        return console.run(command, COMMAND_TIMEOUT);
    }

    public String run(String command, Duration timeout) throws Exception {
        return console.run(command, timeout);
    }

    /** Types {@code poweroff -f} and waits for the VM to end; returns its exit status. */
    public int powerOff() throws Exception {
        console.skipToEnd();
        console.send("poweroff -f");
        CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> {
            try {
                return vm.awaitExit();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        });
        try {
            return exit.get(60, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError("the VM did not exit within 60 s of poweroff -f; console tail:\n" + console.tail());
        } catch (ExecutionException e) {
            throw new AssertionError("awaitExit failed: " + e.getCause() + "; console tail:\n" + console.tail(), e);
        }
    }

    @Override
    public void close() {
        vm.stop();
    }
}
