package dev.visor.engine.riscv;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.visor.engine.riscv.Asm.*;
import static dev.visor.engine.riscv.TestMachine.BASE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The C extension's expansion table, against binutils and hand-assembled encodings, and compressed code running. */
class RvcTest {

    private static String hex(int v) { return String.format("0x%08x", v); }

    @Test
    void knownExpansions() {
        Map<Integer, Integer> known = Map.ofEntries(
                Map.entry(0x4515, 0x00500513), // c.li a0,5          -> addi a0,zero,5
                Map.entry(0x1141, 0xff010113), // c.addi sp,-16      -> addi sp,sp,-16
                Map.entry(0x8082, 0x00008067), // c.jr ra (ret)      -> jalr zero,0(ra)
                Map.entry(0x852e, 0x00b00533), // c.mv a0,a1         -> add a0,zero,a1
                Map.entry(0x60a2, 0x00813083), // c.ldsp ra,8(sp)    -> ld ra,8(sp)
                Map.entry(0xe406, 0x00113423), // c.sdsp ra,8(sp)    -> sd ra,8(sp)
                Map.entry(0x0001, 0x00000013), // c.nop              -> addi zero,zero,0
                Map.entry(0x9002, 0x00100073), // c.ebreak           -> ebreak
                Map.entry(0x0800, 0x01010413), // c.addi4spn s0,sp,16 -> addi s0,sp,16
                Map.entry(0x2501, 0x0005051b), // c.addiw a0,0 (sext.w) -> addiw a0,a0,0
                Map.entry(0x6505, 0x00001537), // c.lui a0,1         -> lui a0,1
                Map.entry(0x6141, 0x01010113), // c.addi16sp sp,16   -> addi sp,sp,16
                Map.entry(0x8d0d, 0x40b50533), // c.sub a0,a1
                Map.entry(0x9d2d, 0x00b5053b)  // c.addw a0,a1 -> addw a0,a0,a1
        );
        known.forEach((c, w) -> assertEquals(hex(w), hex(Rvc.EXPAND[c]), () -> String.format("EXPAND[0x%04x]", c)));
    }

    @Test
    void reservedEncodingsAreIllegal() {
        assertEquals(0, Rvc.EXPAND[0x0000]); // defined illegal instruction
        assertEquals(0, Rvc.EXPAND[0x6101]); // c.addi16sp with imm 0
        assertEquals(0, Rvc.EXPAND[0x6501]); // c.lui a0,0 (nzimm = 0)
        assertEquals(0, Rvc.EXPAND[0x2001]); // c.addiw x0 (reserved)
        assertEquals(0, Rvc.EXPAND[0x8002]); // c.jr x0 (reserved)
        assertEquals(0, Rvc.EXPAND[0x4002]); // c.lwsp x0 (reserved)
        assertEquals(0, Rvc.EXPAND[0x6002]); // c.ldsp x0 (reserved)
        assertEquals(0, Rvc.EXPAND[0x8000]); // quadrant 0 funct3 4 (reserved)
        assertEquals(0, Rvc.EXPAND[0x9c41]); // c.subw/c.addw slot 2 (reserved)
    }

    /**
     * Exhaustive: every 16-bit pattern is disassembled by objdump; each one it decodes is reassembled
     * without C and must equal the engine's expansion, and each it calls reserved must expand to 0.
     */
    @Test
    void everyHalfwordMatchesBinutils(@TempDir Path dir) throws Exception {
        Binutils.assumeAvailable();
        ByteBuffer all = ByteBuffer.allocate(2 * 49152).order(ByteOrder.LITTLE_ENDIAN);
        for (int c = 0; c < 1 << 16; c++) if ((c & 3) != 3) all.putShort((short) c);
        Files.write(dir.resolve("all.bin"), all.array());
        String dis = Binutils.run(dir, "objdump", "-D", "-b", "binary", "-m", "riscv:rv64", "all.bin");

        Pattern line = Pattern.compile("^\\s*([0-9a-f]+):\\t([0-9a-f]{4})\\s+\\t(\\S+)\\s*(.*)$");
        Map<String, Function<String, String>> hints = Map.of( // objdump spellings gas does not take back
                "c.nop", o -> "addi zero,zero," + (o.isEmpty() ? "0" : o),
                "c.slli", o -> "slli " + o.split(",")[0] + "," + o,
                "c.li", o -> "addi zero,zero," + o.split(",")[1],
                "c.lui", o -> "lui " + o,
                "c.mv", o -> "add zero,zero," + o.split(",")[1],
                "c.add", o -> "add zero,zero," + o.split(",")[1],
                "c.slli64", o -> "slli " + o + "," + o + ",0",
                "c.srli64", o -> "srli " + o + "," + o + ",0",
                "c.srai64", o -> "srai " + o + "," + o + ",0",
                "mv", o -> "add " + o.split(",")[0] + ",zero," + o.split(",")[1]); // c.mv is add, gas's mv is addi
        StringBuilder src = new StringBuilder(".option norvc\n");
        List<Integer> decoded = new ArrayList<>();
        List<String> texts = new ArrayList<>();
        int reserved = 0;
        for (String l : dis.split("\n")) {
            Matcher m = line.matcher(l);
            if (!m.matches()) continue;
            long at = Long.parseLong(m.group(1), 16);
            int c = Integer.parseInt(m.group(2), 16);
            String mn = m.group(3), ops = m.group(4).trim();
            // binutils 2.40 accepts c.addi16sp with a zero immediate, which the spec reserves
            if (mn.equals(".2byte") || mn.equals("unimp") || c == 0x6101) {
                final int cc = c;
                assertEquals(0, Rvc.EXPAND[c], () -> String.format("reserved 0x%04x (%s) must be illegal, got %s", cc, l.trim(), hex(Rvc.EXPAND[cc])));
                reserved++;
                continue;
            }
            if (mn.equals("j") || mn.equals("beqz") || mn.equals("bnez")) { // absolute target -> relative to '.'
                int comma = ops.lastIndexOf(',');
                long target = Long.parseLong(ops.substring(comma + 1).replace("0x", ""), 16);
                ops = ops.substring(0, comma + 1) + String.format(".%+d", target - at);
            }
            String insn = hints.containsKey(mn) ? hints.get(mn).apply(ops) : mn + " " + ops;
            src.append(insn).append('\n');
            decoded.add(c);
            texts.add(l.trim());
        }
        assertTrue(decoded.size() > 45_000, "objdump decoded only " + decoded.size());
        assertTrue(reserved > 1000, "reserved " + reserved);
        byte[] g = Binutils.assembleText(dir, "g", src.toString(), "rv64g");
        assertEquals(decoded.size() * 4, g.length);
        ByteBuffer gb = ByteBuffer.wrap(g).order(ByteOrder.LITTLE_ENDIAN);
        int mismatches = 0;
        StringBuilder report = new StringBuilder();
        for (int k = 0; k < decoded.size(); k++) {
            int want = gb.getInt(4 * k);
            int c = decoded.get(k);
            if (Rvc.EXPAND[c] != want) {
                if (mismatches++ < 20) report.append(String.format("%n  0x%04x %s: engine %s, binutils %s", c, texts.get(k), hex(Rvc.EXPAND[c]), hex(want)));
            }
        }
        assertEquals(0, mismatches, "expansions differing from binutils:" + report);
    }

    /**
     * The same source assembled with and without C: every instruction the assembler compressed must
     * expand to exactly the word it emits without C. Operands are random over each form's legal range.
     */
    @Test
    void assemblerCompressionMatches(@TempDir Path dir) throws Exception {
        Binutils.assumeAvailable();
        Random rnd = new Random(42);
        String[] x = new String[32];
        for (int i = 0; i < 32; i++) x[i] = "x" + i;
        String[] xp = {"s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5"};
        String[] fp = {"fs0", "fs1", "fa0", "fa1", "fa2", "fa3", "fa4", "fa5"};
        List<String> lines = new ArrayList<>();
        for (int n = 0; n < 200; n++) {
            String p = xp[rnd.nextInt(8)], q = xp[rnd.nextInt(8)], f = fp[rnd.nextInt(8)];
            String r = x[1 + rnd.nextInt(31)], r2 = x[1 + rnd.nextInt(31)];
            String rnsp = r.equals("x2") ? "x1" : r;
            int imm6 = rnd.nextInt(64) - 32, nz6 = imm6 == 0 ? 1 : imm6, sh = 1 + rnd.nextInt(63);
            lines.add("addi " + p + ", sp, " + 4 * (1 + rnd.nextInt(255)));           // c.addi4spn
            lines.add("fld " + f + ", " + 8 * rnd.nextInt(32) + "(" + q + ")");        // c.fld
            lines.add("lw " + p + ", " + 4 * rnd.nextInt(32) + "(" + q + ")");         // c.lw
            lines.add("ld " + p + ", " + 8 * rnd.nextInt(32) + "(" + q + ")");         // c.ld
            lines.add("fsd " + f + ", " + 8 * rnd.nextInt(32) + "(" + q + ")");        // c.fsd
            lines.add("sw " + p + ", " + 4 * rnd.nextInt(32) + "(" + q + ")");         // c.sw
            lines.add("sd " + p + ", " + 8 * rnd.nextInt(32) + "(" + q + ")");         // c.sd
            lines.add("addi " + r + ", " + r + ", " + nz6);                             // c.addi
            lines.add("addiw " + r + ", " + r + ", " + imm6);                           // c.addiw
            lines.add("li " + r + ", " + imm6);                                         // c.li
            lines.add("addi sp, sp, " + 16 * (rnd.nextBoolean() ? 1 + rnd.nextInt(31) : -(1 + rnd.nextInt(32)))); // c.addi16sp
            lines.add("lui " + rnsp + ", " + (rnd.nextBoolean() ? 1 + rnd.nextInt(31) : 0xfffe0 + rnd.nextInt(32))); // c.lui
            lines.add("srli " + p + ", " + p + ", " + sh);                              // c.srli
            lines.add("srai " + p + ", " + p + ", " + sh);                              // c.srai
            lines.add("andi " + p + ", " + p + ", " + imm6);                            // c.andi
            lines.add("sub " + p + ", " + p + ", " + q);                                // c.sub
            lines.add("xor " + p + ", " + p + ", " + q);                                // c.xor
            lines.add("or " + p + ", " + p + ", " + q);                                 // c.or
            lines.add("and " + p + ", " + p + ", " + q);                                // c.and
            lines.add("subw " + p + ", " + p + ", " + q);                               // c.subw
            lines.add("addw " + p + ", " + p + ", " + q);                               // c.addw
            lines.add(String.format("j .%+d", 2 * (rnd.nextInt(2000) - 1000)));                         // c.j
            lines.add(String.format("beqz %s, .%+d", p, 2 * (rnd.nextInt(256) - 128)));             // c.beqz
            lines.add(String.format("bnez %s, .%+d", p, 2 * (rnd.nextInt(256) - 128)));             // c.bnez
            lines.add("slli " + r + ", " + r + ", " + sh);                              // c.slli
            lines.add("fld " + "f" + rnd.nextInt(32) + ", " + 8 * rnd.nextInt(64) + "(sp)"); // c.fldsp
            lines.add("lw " + r + ", " + 4 * rnd.nextInt(64) + "(sp)");                 // c.lwsp
            lines.add("ld " + r + ", " + 8 * rnd.nextInt(64) + "(sp)");                 // c.ldsp
            lines.add("jr " + r);                                                       // c.jr
            lines.add("add " + r + ", x0, " + r2);                                      // c.mv (gas's "mv" is addi)
            lines.add("jalr " + r);                                                     // c.jalr
            lines.add("add " + r + ", " + r + ", " + r2);                               // c.add
            lines.add("fsd " + "f" + rnd.nextInt(32) + ", " + 8 * rnd.nextInt(64) + "(sp)"); // c.fsdsp
            lines.add("sw " + r + ", " + 4 * rnd.nextInt(64) + "(sp)");                 // c.swsp
            lines.add("sd " + r + ", " + 8 * rnd.nextInt(64) + "(sp)");                 // c.sdsp
        }
        lines.add("ebreak");
        lines.add("nop");
        // '.+N' is assembled relative to each build's own location; with j/beqz fixed offsets both builds agree
        String source = String.join("\n", lines) + "\n";
        byte[] gc = Binutils.assembleText(dir, "gc", ".option rvc\n.option norelax\n" + source, "rv64gc");
        byte[] g = Binutils.assembleText(dir, "g", ".option norvc\n.option norelax\n" + source, "rv64g");
        assertEquals(lines.size() * 4, g.length);
        ByteBuffer cb = ByteBuffer.wrap(gc).order(ByteOrder.LITTLE_ENDIAN), gb = ByteBuffer.wrap(g).order(ByteOrder.LITTLE_ENDIAN);
        int pos = 0, compressed = 0;
        for (int k = 0; k < lines.size(); k++) {
            int want = gb.getInt(4 * k);
            int half = cb.getShort(pos) & 0xffff;
            if ((half & 3) != 3) {
                final int kk = k, h = half;
                assertEquals(hex(want), hex(Rvc.EXPAND[half]), () -> String.format("'%s' compressed to 0x%04x", lines.get(kk), h));
                compressed++;
                pos += 2;
            } else {
                assertEquals(hex(want), hex(cb.getInt(pos)), lines.get(k));
                pos += 4;
            }
        }
        assertEquals(gc.length, pos);
        assertTrue(compressed > lines.size() * 9 / 10, "only " + compressed + " of " + lines.size() + " compressed");
    }

    @Test
    void compressedCodeRuns() {
        TestMachine m = new TestMachine();
        Asm a = new Asm(BASE);
        a.c(0x4515);            // c.li a0,5
        a.c(0x0529);            // c.addi a0,10         -> 15
        a.c(0x85aa);            // c.mv a1,a0           -> 15
        a.c(0x95aa);            // c.add a1,a0          -> 30
        a.c(0x058e);            // c.slli a1,3          -> 240
        a.c(0xa011);            // c.j +4 (skips next)
        a.c(0x4501);            // c.li a0,0 (skipped)
        a.c(0xc111);            // c.beqz a0,+4 (not taken)
        a.c(0x0505);            // c.addi a0,1          -> 16
        a.c(0x0001);            // c.nop
        a.label("end").spin();
        m.load(a).reset(BASE);
        m.runTo(a, "end");
        assertEquals(16, m.x(A0));
        assertEquals(240, m.x(A1));
    }

    @Test
    void thirtyTwoBitInstructionStraddlingAPage() {
        TestMachine m = new TestMachine();
        long page = BASE + 0x1000;
        Asm a = new Asm(page - 4);
        a.c(0x4515);                 // c.li a0,5 at page-4
        a.addi(A0, A0, 100);         // 32-bit at page-2, spanning two pages
        a.c(0x0505);                 // c.addi a0,1
        a.label("end").spin();
        m.load(a).reset(page - 4);
        m.runTo(a, "end");
        assertEquals(106, m.x(A0));
    }

    @Test
    void illegalCompressedTrapsWithTheHalfword() {
        TestMachine m = new TestMachine();
        Asm a = new Asm(BASE);
        a.c(0x8002);  // c.jr x0: reserved
        a.c(0x0001);
        a.label("handler").spin();
        m.load(a).reset(BASE);
        m.hart.mtvec = a.addressOf("handler");
        m.runTo(a, "handler");
        assertEquals(Trap.ILLEGAL, m.hart.mcause);
        assertEquals(BASE, m.hart.mepc);
        assertEquals(0x8002, m.hart.mtval);
    }
}
