package dev.visor.vmm.guest;

import dev.visor.images.GuestImage;
import dev.visor.vmm.RamSource;
import dev.visor.vmm.VirtualMachine;
import dev.visor.vmm.VmSpec;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real Debian guest moved between two VMs in this process: its state saved while paused, a
 * second VM built from that state and a copy of its RAM, the first stopped and the second resumed.
 * The guest must not notice: a counting loop goes on counting, uptime goes on rising (without a
 * jump), the shell answers and the virtio devices keep working.
 */
class VmStateGuestTest {
    /** rng and balloon: devices with queues in use, whose positions must survive the move. */
    static final VmSpec.Devices DEVICES = new VmSpec.Devices(List.of(), List.of(), true, true, null, null);

    @Test
    void savedAndRestoredGuestContinues() throws Exception {
        GuestImage image = BootedGuest.defaultImage();
        VirtualMachine second = null;
        try (BootedGuest g = BootedGuest.boot(image, DEVICES)) {
            // the counter lives in the initramfs (RAM): no disk needed, and no output on the console
            // written aside and renamed: a reader (or a snapshot) never sees the file between truncate and write
            g.run("(i=0; while true; do i=$((i+1)); echo $i > /tmp/counter.new; mv /tmp/counter.new /tmp/counter; sleep 0.2; done) >/dev/null 2>&1 &");
            assertEquals("rng ok", g.run("head -c 64 /dev/hwrng | wc -c | sed 's/^ *64$/rng ok/'"));
            g.run("sleep 1");
            long before = Long.parseLong(g.run("cat /tmp/counter").trim());
            double uptimeBefore = uptime(g.console);
            assertTrue(before >= 3, "the counter runs: " + before);

            g.vm.pause();
            byte[] state = g.vm.saveState();
            GuestConsole console = new GuestConsole();
            second = VirtualMachine.restore(g.vm.spec(), state, RamSource.of(g.vm.board().memory), console);
            g.vm.stop();
            console.connect(second::consoleInput);
            second.resume();

            assertEquals("hello", console.run("echo hello", Duration.ofSeconds(60)));
            long after = Long.parseLong(console.run("cat /tmp/counter", Duration.ofSeconds(60)).trim());
            assertTrue(after >= before, "the counter continues from " + before + ", not reset: " + after);
            console.run("sleep 1", Duration.ofSeconds(60));
            long later = Long.parseLong(console.run("cat /tmp/counter", Duration.ofSeconds(60)).trim());
            assertTrue(later > after, "the counter keeps counting: " + after + " then " + later);
            double uptimeAfter = uptime(console);
            assertTrue(uptimeAfter > uptimeBefore && uptimeAfter < uptimeBefore + 60,
                    "uptime goes on without a jump: " + uptimeBefore + " then " + uptimeAfter);
            assertEquals("rng ok", console.run("head -c 64 /dev/hwrng | wc -c | sed 's/^ *64$/rng ok/'", Duration.ofSeconds(60)));
            System.err.printf("state %d bytes; counter %d -> %d -> %d; uptime %.2f -> %.2f%n",
                    state.length, before, after, later, uptimeBefore, uptimeAfter);
        } finally {
            if (second != null) second.stop();
        }
    }

    private static double uptime(GuestConsole c) throws Exception {
        return Double.parseDouble(c.run("cut -d' ' -f1 /proc/uptime", Duration.ofSeconds(60)).trim());
    }
}
