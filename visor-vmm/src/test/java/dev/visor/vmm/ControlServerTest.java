package dev.visor.vmm;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The control socket's {@code stats} and {@code quit} on a VM running a bare-metal spin loop
 * (baremetal/spin.S, assembled with the riscv64 binutils as {@link BareMetalTest} does).
 */
class ControlServerTest {
    @TempDir
    static Path dir;

    static Path spin;

    @BeforeAll
    static void build() throws IOException, InterruptedException {
        String prefix = BareMetalTest.PREFIX;
        assumeTrue(BareMetalTest.onPath(prefix + "as") && BareMetalTest.onPath(prefix + "ld"),
                prefix + "as/ld not found: apt-get install binutils-riscv64-linux-gnu");
        for (String name : List.of("spin.S", "link.ld")) {
            try (InputStream in = ControlServerTest.class.getResourceAsStream("/baremetal/" + name)) {
                Files.write(dir.resolve(name), in.readAllBytes());
            }
        }
        tool(prefix + "as", "-march=rv64gc", "-mabi=lp64d", "-o", "spin.o", "spin.S");
        tool(prefix + "ld", "-T", "link.ld", "--no-warn-rwx-segments", "-o", "spin.elf", "spin.o");
        spin = dir.resolve("spin.elf");
    }

    private static void tool(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), List.of(cmd) + " timed out");
        assertEquals(0, p.exitValue(), List.of(cmd) + " failed:\n" + out);
    }

    /** name=value pairs of a stats answer, in order. */
    static Map<String, String> fields(String answer) {
        assertTrue(answer.startsWith("ok "), answer);
        Map<String, String> m = new LinkedHashMap<>();
        for (String kv : answer.substring(3).split(" ")) {
            int eq = kv.indexOf('=');
            assertTrue(eq > 0, "not name=value: " + kv + " in " + answer);
            m.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        return m;
    }

    private static VirtualMachine spinVm(Path disk) throws VmConfigException {
        List<DiskSpec> disks = new ArrayList<>();
        disks.add(DiskSpec.parse(disk.toString()));
        var devices = new VmSpec.Devices(disks, List.of(), false, false, null, null);
        return VirtualMachine.build(new VmSpec(2, 64L << 20, spin, null, null, "", devices), new ByteArrayOutputStream());
    }

    @Test
    void statsCountTheRunningGuestAndNameEveryCounter() throws Exception {
        Path disk = Files.write(dir.resolve("disk.raw"), new byte[1 << 20]);
        VirtualMachine vm = spinVm(disk);
        try (ControlServer control = ControlServer.start(vm, dir.resolve("stats.sock"))) {
            vm.start();
            long end = System.nanoTime() + 30_000_000_000L;
            Map<String, String> s;
            do {
                Thread.sleep(20);
                s = fields(control.execute("stats"));
            } while ((Long.parseLong(s.get("instret")) < 1_000_000 || Long.parseLong(s.get("vcpu_ns")) < 1_000_000) && System.nanoTime() < end);
            assertEquals(List.of("instret", "vcpu_ns", "disk_read_bytes", "disk_write_bytes", "disk_read_ops", "disk_write_ops",
                    "net_rx_bytes", "net_tx_bytes", "net_rx_packets", "net_tx_packets", "memory", "state"), List.copyOf(s.keySet()));
            assertTrue(Long.parseLong(s.get("instret")) >= 1_000_000, "instret: " + s);
            assertTrue(Long.parseLong(s.get("vcpu_ns")) >= 1_000_000, "vcpu_ns: " + s);
            assertEquals("0", s.get("disk_read_bytes"), "the spin loop has no driver");
            assertEquals(String.valueOf(64L << 20), s.get("memory"));
            assertEquals("running", s.get("state"));

            control.execute("pause");
            long paused = Long.parseLong(fields(control.execute("stats")).get("instret"));
            assertEquals("paused", fields(control.execute("stats")).get("state"));
            Thread.sleep(50);
            assertEquals(paused, Long.parseLong(fields(control.execute("stats")).get("instret")), "a paused guest retires nothing");
            control.execute("resume");
        } finally {
            vm.stop();
        }
    }

    @Test
    void quitAnswersThenStopsTheVmWithStatusZero() throws Exception {
        Path socket = dir.resolve("quit.sock");
        var devices = new VmSpec.Devices(List.of(), List.of(), false, false, null, socket);
        VirtualMachine vm = VirtualMachine.build(new VmSpec(1, 64L << 20, spin, null, null, "", devices), new ByteArrayOutputStream());
        vm.start();
        VirtualMachine running = vm;
        CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> {
            try {
                return running.awaitExit();
            } catch (InterruptedException e) {
                return -1;
            }
        });
        try {
            assertEquals("ok stopping", ask(socket, "quit"));
            assertEquals(0, exit.get(10, TimeUnit.SECONDS));
            assertNull(vm.failure());
            assertFalse(Files.exists(socket), "the control socket goes with the VM");
        } finally {
            vm.stop();
        }
    }

    private static String ask(Path socket, String command) throws IOException {
        try (var ch = java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            ch.connect(java.net.UnixDomainSocketAddress.of(socket));
            ch.write(StandardCharsets.UTF_8.encode(command + "\n"));
            String line = new java.io.BufferedReader(new java.io.InputStreamReader(java.nio.channels.Channels.newInputStream(ch),
                    StandardCharsets.UTF_8)).readLine();
            return line == null ? "" : line;
        }
    }
}
