package dev.visor.vmm.guest;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The console harness against a scripted fake shell: no VM. */
class GuestConsoleTest {
    static final Duration SHORT = Duration.ofSeconds(5);

    /** A console whose "shell" echoes each line like ash (CR LF, cursor query before the prompt) and answers {@code reply}. */
    static GuestConsole withFakeShell(String reply) {
        GuestConsole console = new GuestConsole();
        console.connect((data, off, len) -> {
            String line = new String(data, off, len, StandardCharsets.UTF_8).replace("\n", "");
            byte[] out = (line + "\r\n" + reply + "\u001b[6n~ # ").getBytes(StandardCharsets.UTF_8);
            // arrives in pieces, splitting the escape sequence, from another thread as a VM would write
            Thread.ofPlatform().start(() -> {
                for (byte b : out) {
                    console.write(b);
                }
            });
        });
        return console;
    }

    @Test
    void stripsEscapesAndCarriageReturns() {
        assertEquals("~ # ls\nbin", GuestConsole.stripAnsi("\u001b[6n~ # ls\r\n\u001b[1;34mbin\u001b[0m"));
    }

    @Test
    void runReturnsTheOutputBetweenEchoAndPrompt() throws Exception {
        GuestConsole console = withFakeShell("42\r\n");
        console.write("visor: shell ready\r\n\u001b[6n~ # ".getBytes(StandardCharsets.UTF_8));
        console.waitFor("visor: shell ready", SHORT);
        console.waitForPrompt(SHORT);
        assertEquals("42", console.run("echo $((6*7))", SHORT));
        assertEquals("", withFakeShell("").run("true", SHORT));
        assertEquals("a\nb", withFakeShell("a\r\nb\r\n").run("x", SHORT));
    }

    @Test
    void aTimeoutQuotesTheConsoleTail() {
        GuestConsole console = new GuestConsole();
        console.write("booting...\r\n".getBytes(StandardCharsets.UTF_8));
        AssertionError e = assertThrows(AssertionError.class, () -> console.waitFor("never", Duration.ofMillis(50)));
        assertTrue(e.getMessage().contains("never") && e.getMessage().contains("booting..."), e.getMessage());
    }

    @Test
    void waitsMoveForward() throws Exception {
        GuestConsole console = new GuestConsole();
        console.write("one # two # ".getBytes(StandardCharsets.UTF_8));
        assertEquals("one", console.waitFor(" # ", SHORT));
        assertEquals("two", console.waitFor(" # ", SHORT));
        assertThrows(AssertionError.class, () -> console.waitFor(" # ", Duration.ofMillis(20)));
    }
}
