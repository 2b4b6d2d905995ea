package dev.visor.vmm.guest;

import dev.visor.images.GuestImage;
import dev.visor.images.ImageException;
import dev.visor.images.ImageStore;
import dev.visor.vmm.VirtualMachine;
import dev.visor.vmm.VmSpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.opentest4j.TestAbortedException;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Boots the real default image (Debian's riscv64 kernel, the busybox initramfs and OpenSBI
 * fw_jump.bin) in this process and checks, by running commands in the guest's shell, that the guest
 * computes what the host computes. Skipped when the image cannot be had (no network/apt).
 *
 * <p>Two boots in all: one 1-hart VM shared by the checks in order, ending with a clean
 * {@code poweroff -f}, then one 2-hart VM for {@code nproc}. Only one VM runs at a time.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DebianGuestTest {
    /** Kernel + OpenSBI + initramfs to the shell prompt: about 15 s on a 2-core machine; CI is slower. */
    static final Duration BOOT_TIMEOUT = Duration.ofSeconds(120);
    static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(60);
    static final Duration EXIT_TIMEOUT = Duration.ofSeconds(60);
    static final String READY_MARKER = "visor: shell ready";

    private GuestImage image;
    /** The shared 1-hart guest, booted by the first test that needs it. */
    private Guest shared;
    private AssertionError sharedBootFailure;

    /** A running VM and its console. */
    record Guest(VirtualMachine vm, GuestConsole console) {
        String run(String command) throws Exception {
            return console.run(command, COMMAND_TIMEOUT);
        }

        /** Types {@code poweroff -f} and waits for the VM to end; returns its exit status. */
        int powerOff() throws Exception {
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
                return exit.get(EXIT_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                throw new AssertionError("the VM did not exit within " + EXIT_TIMEOUT.toSeconds()
                        + " s of poweroff -f; console tail:\n" + console.tail());
            } catch (ExecutionException e) {
                throw new AssertionError("awaitExit failed: " + e.getCause() + "; console tail:\n" + console.tail(), e);
            }
        }
    }

    /** Why there is no image, or null. */
    private String noImage;

    @BeforeAll
    void image() {
        try {
            image = new ImageStore().defaultImage(System.err);
        } catch (ImageException e) {
            noImage = "the default guest image cannot be obtained: " + e.getMessage();
        }
    }

    @AfterAll
    void stopAll() {
        if (shared != null) shared.vm().stop();
    }

    /** Builds and starts a VM of {@code cpus} harts and waits for the shell's first prompt. */
    Guest boot(int cpus) throws Exception {
        assumeTrue(image != null, noImage); // each test is reported as skipped
        GuestConsole console = new GuestConsole();
        VirtualMachine vm = VirtualMachine.build(new VmSpec(cpus, VmSpec.DEFAULT_MEMORY, image.kernel(), image.initrd(),
                image.firmware(), VmSpec.DEFAULT_APPEND), console);
        console.connect(vm::consoleInput);
        vm.start();
        try {
            console.waitFor(READY_MARKER, BOOT_TIMEOUT);
            console.waitForPrompt(BOOT_TIMEOUT);
        } catch (Throwable t) {
            vm.stop();
            if (vm.failure() != null) throw new AssertionError(vm.failure() + "\n" + t.getMessage(), t);
            throw t;
        }
        return new Guest(vm, console);
    }

    Guest shared() throws Exception {
        if (sharedBootFailure != null) throw new AssertionError("the shared guest did not boot (see the first failure)", sharedBootFailure);
        if (shared == null) {
            try {
                shared = boot(1);
            } catch (TestAbortedException e) {
                throw e;                    // no image: skipped, not failed
            } catch (AssertionError e) {
                sharedBootFailure = e;      // one failed boot is enough: later checks fail at once
                throw e;
            } catch (Exception e) {
                sharedBootFailure = new AssertionError("the 1-hart guest did not boot: " + e, e);
                throw sharedBootFailure;
            }
        }
        return shared;
    }

    static String sha256(byte[] data) throws NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }

    @Test
    @Order(1)
    void shellArithmetic() throws Exception {
        assertEquals("42", shared().run("echo $((6*7))"));
    }

    @Test
    @Order(2)
    void oneHartOneProcessor() throws Exception {
        assertEquals("1", shared().run("nproc"));
    }

    @Test
    @Order(3)
    void sha256OfAString() throws Exception {
        String expected = sha256("visor".getBytes(StandardCharsets.US_ASCII));
        assertEquals(expected + "  -", shared().run("printf 'visor' | sha256sum"));
    }

    @Test
    @Order(4)
    void sha256OfAPipeFromDd() throws Exception {
        String expected = sha256(new byte[256 * 1024]);
        assertEquals(expected + "  -", shared().run("dd if=/dev/zero bs=1k count=256 2>/dev/null | sha256sum"));
    }

    @Test
    @Order(5)
    void cpuinfoShowsTheIsa() throws Exception {
        String cpuinfo = shared().run("cat /proc/cpuinfo");
        assertTrue(cpuinfo.contains("rv64imafdc"), "no rv64imafdc in /proc/cpuinfo:\n" + cpuinfo);
    }

    @Test
    @Order(6)
    void poweroffEndsTheVmWithStatusZero() throws Exception {
        Guest g = shared();
        int status = g.powerOff();
        shared = null; // gone: later tests must not use it
        sharedBootFailure = new AssertionError("the shared guest was powered off");
        assertEquals(0, status, "exit status after poweroff -f; console tail:\n" + g.console().tail());
    }

    @Test
    @Order(7)
    void twoHartsTwoProcessors() throws Exception {
        if (shared != null) { // run alone or out of order: one VM at a time
            shared.vm().stop();
            shared = null;
        }
        Guest g = boot(2);
        try {
            assertEquals("2", g.run("nproc"));
            assertEquals(0, g.powerOff(), "exit status after poweroff -f");
        } finally {
            g.vm().stop();
        }
    }
}
