package dev.visor.cli;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ConsoleEscapeTest {
    /** Records forwarded bytes and actions in order: text as is, actions as "<QUIT>" / "<HELP>". */
    static final class Recorder implements ConsoleEscape.Listener {
        final ByteArrayOutputStream events = new ByteArrayOutputStream();
        final List<ConsoleEscape.Action> actions = new ArrayList<>();
        int forwardCalls;

        @Override
        public void forward(byte[] data, int off, int len) {
            assertTrue(len > 0, "empty forward");
            forwardCalls++;
            events.write(data, off, len);
        }

        @Override
        public void action(ConsoleEscape.Action action) {
            actions.add(action);
            events.writeBytes(("<" + action + ">").getBytes(StandardCharsets.US_ASCII));
        }

        String text() {
            return events.toString(StandardCharsets.ISO_8859_1);
        }
    }

    private static String run(String... reads) {
        ConsoleEscape esc = new ConsoleEscape();
        Recorder r = new Recorder();
        for (String s : reads) {
            byte[] b = ("##" + s + "##").getBytes(StandardCharsets.ISO_8859_1);
            esc.feed(b, 2, b.length - 4, r); // an offset into a larger buffer
        }
        return r.text();
    }

    @Test
    void plainBytesPassInOneCall() {
        ConsoleEscape esc = new ConsoleEscape();
        Recorder r = new Recorder();
        byte[] b = "ls -l\r".getBytes(StandardCharsets.US_ASCII);
        esc.feed(b, 0, b.length, r);
        assertEquals("ls -l\r", r.text());
        assertEquals(1, r.forwardCalls);
        assertFalse(esc.quitRequested());
    }

    @Test
    void ctrlAxQuitsAndDropsTheRest() {
        ConsoleEscape esc = new ConsoleEscape();
        Recorder r = new Recorder();
        byte[] b = "ab\u0001xcd".getBytes(StandardCharsets.US_ASCII);
        esc.feed(b, 0, b.length, r);
        assertEquals("ab<QUIT>", r.text());
        assertTrue(esc.quitRequested());
        esc.feed(b, 0, b.length, r);
        assertEquals("ab<QUIT>", r.text(), "nothing after quit");
    }

    @Test
    void ctrlACtrlASendsOneCtrlA() {
        assertEquals("a\u0001b", run("a\u0001\u0001b"));
        assertEquals("\u0001\u0001", run("\u0001\u0001\u0001\u0001"));
    }

    @Test
    void ctrlAhPrintsHelp() {
        assertEquals("a<HELP>b", run("a\u0001hb"));
        assertEquals("<HELP>", run("\u0001?"));
    }

    @Test
    void unknownCommandIsDropped() {
        assertEquals("ab", run("a\u0001zb"));
        assertEquals("x", run("\u0001\rx"));
    }

    @Test
    void escapeSpansReads() {
        assertEquals("a<QUIT>", run("a\u0001", "x", "more"));
        assertEquals("a\u0001b", run("a\u0001", "\u0001b"));
        assertEquals("ab", run("a", "\u0001", "", "c", "b"));
    }

    @Test
    void otherControlBytesPass() {
        assertEquals("\u0003\u0004\u001b[A", run("\u0003\u0004\u001b[A"));
    }

    @Test
    void helpTextUsesCrLf() {
        assertTrue(ConsoleEscape.HELP.contains("C-a x"));
        assertFalse(ConsoleEscape.HELP.replace("\r\n", "").contains("\n"));
    }
}
