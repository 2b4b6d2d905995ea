package dev.visor.board.virt;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class FdtBuilderTest {
    /** A small virt-like tree, and below the same tree as DTS source for dtc to compile. */
    private static byte[] sample() {
        FdtBuilder b = new FdtBuilder();
        int intc = b.phandle();
        int plic = b.phandle();
        assertEquals(1, intc);
        assertEquals(2, plic);
        b.beginNode("");
        b.propertyU32("#address-cells", 2).propertyU32("#size-cells", 2);
        b.propertyString("compatible", "riscv-virtio");
        b.propertyString("model", "riscv-virtio,qemu");
        b.beginNode("chosen");
        b.propertyString("bootargs", "console=ttyS0 quiet");
        b.propertyString("stdout-path", "/soc/serial@10000000");
        b.propertyU64("linux,initrd-start", 0x84000000L);
        b.propertyU64("linux,initrd-end", 0x84100000L);
        b.endNode();
        b.beginNode("memory@80000000");
        b.propertyString("device_type", "memory");
        b.propertyU64("reg", 0x80000000L, 0x20000000L);
        b.endNode();
        b.beginNode("cpus");
        b.propertyU32("#address-cells", 1).propertyU32("#size-cells", 0);
        b.propertyU32("timebase-frequency", 10_000_000);
        b.beginNode("cpu@0");
        b.propertyString("device_type", "cpu");
        b.propertyU32("reg", 0);
        b.propertyString("status", "okay");
        b.propertyString("compatible", "riscv");
        b.propertyString("riscv,isa", "rv64imafdc_zicsr_zifencei");
        b.propertyString("mmu-type", "riscv,sv48");
        b.beginNode("interrupt-controller");
        b.propertyU32("#interrupt-cells", 1);
        b.propertyEmpty("interrupt-controller");
        b.propertyString("compatible", "riscv,cpu-intc");
        b.propertyU32("phandle", intc);
        b.endNode();
        b.endNode();
        b.endNode();
        b.beginNode("soc");
        b.propertyU32("#address-cells", 2).propertyU32("#size-cells", 2);
        b.propertyStrings("compatible", "simple-bus");
        b.propertyEmpty("ranges");
        b.beginNode("plic@c000000");
        b.propertyU32("phandle", plic);
        b.propertyU32("riscv,ndev", 95);
        b.propertyU64("reg", 0xc000000L, 0x600000L);
        b.propertyU32("interrupts-extended", intc, 11, intc, 9);
        b.propertyEmpty("interrupt-controller");
        b.propertyStrings("compatible", "sifive,plic-1.0.0", "riscv,plic0");
        b.propertyU32("#interrupt-cells", 1);
        b.propertyU32("#address-cells", 0);
        b.endNode();
        b.beginNode("serial@10000000");
        b.propertyU32("interrupts", 10);
        b.propertyU32("interrupt-parent", plic);
        b.propertyU32("clock-frequency", 3686400);
        b.propertyU64("reg", 0x10000000L, 0x100L);
        b.propertyString("compatible", "ns16550a");
        b.property("raw", new byte[] {1, 2, 3});
        b.endNode();
        b.endNode();
        b.endNode();
        return b.finish();
    }

    private static final String SAMPLE_DTS = """
            /dts-v1/;
            / {
                #address-cells = <2>; #size-cells = <2>;
                compatible = "riscv-virtio";
                model = "riscv-virtio,qemu";
                chosen {
                    bootargs = "console=ttyS0 quiet";
                    stdout-path = "/soc/serial@10000000";
                    linux,initrd-start = /bits/ 64 <0x84000000>;
                    linux,initrd-end = /bits/ 64 <0x84100000>;
                };
                memory@80000000 {
                    device_type = "memory";
                    reg = /bits/ 64 <0x80000000 0x20000000>;
                };
                cpus {
                    #address-cells = <1>; #size-cells = <0>;
                    timebase-frequency = <10000000>;
                    cpu@0 {
                        device_type = "cpu";
                        reg = <0>;
                        status = "okay";
                        compatible = "riscv";
                        riscv,isa = "rv64imafdc_zicsr_zifencei";
                        mmu-type = "riscv,sv48";
                        interrupt-controller {
                            #interrupt-cells = <1>;
                            interrupt-controller;
                            compatible = "riscv,cpu-intc";
                            phandle = <1>;
                        };
                    };
                };
                soc {
                    #address-cells = <2>; #size-cells = <2>;
                    compatible = "simple-bus";
                    ranges;
                    plic@c000000 {
                        phandle = <2>;
                        riscv,ndev = <95>;
                        reg = /bits/ 64 <0xc000000 0x600000>;
                        interrupts-extended = <1 11 1 9>;
                        interrupt-controller;
                        compatible = "sifive,plic-1.0.0", "riscv,plic0";
                        #interrupt-cells = <1>;
                        #address-cells = <0>;
                    };
                    serial@10000000 {
                        interrupts = <10>;
                        interrupt-parent = <2>;
                        clock-frequency = <3686400>;
                        reg = /bits/ 64 <0x10000000 0x100>;
                        compatible = "ns16550a";
                        raw = [01 02 03];
                    };
                };
            };
            """;

    @Test
    void headerFields() {
        byte[] dtb = sample();
        ByteBuffer h = ByteBuffer.wrap(dtb); // big-endian by default
        assertEquals(0xd00dfeed, h.getInt(0), "magic");
        int total = h.getInt(4), offStruct = h.getInt(8), offStrings = h.getInt(12), offRsv = h.getInt(16);
        assertEquals(dtb.length, total, "totalsize");
        assertEquals(17, h.getInt(20), "version");
        assertEquals(16, h.getInt(24), "last_comp_version");
        assertEquals(0, h.getInt(28), "boot_cpuid_phys");
        int sizeStrings = h.getInt(32), sizeStruct = h.getInt(36);
        assertEquals(40, offRsv);
        assertEquals(0, offRsv % 8, "reservation block 8-aligned");
        assertEquals(0L, h.getLong(offRsv), "empty reservation map: terminator address");
        assertEquals(0L, h.getLong(offRsv + 8), "terminator size");
        assertEquals(offRsv + 16, offStruct);
        assertEquals(0, offStruct % 4);
        assertEquals(offStruct + sizeStruct, offStrings);
        assertTrue(offStrings + sizeStrings <= total);
        assertEquals(0, total % 4);
        assertEquals(1, h.getInt(offStruct), "FDT_BEGIN_NODE first");
        assertEquals(0, h.getInt(offStruct + 4), "root name empty, padded");
        assertEquals(9, h.getInt(offStruct + sizeStruct - 4), "FDT_END last");
        assertEquals(2, h.getInt(offStruct + sizeStruct - 8), "root FDT_END_NODE before it");

        // Strings are deduplicated: every name occurs exactly once in the strings block.
        String table = new String(dtb, offStrings, sizeStrings, StandardCharsets.UTF_8);
        List<String> names = List.of(table.split("\0"));
        assertEquals(names.size(), names.stream().distinct().count(), names.toString());
        assertTrue(names.containsAll(List.of("#address-cells", "compatible", "reg", "phandle", "interrupt-controller")));
        assertEquals(1, count(table, "compatible\0"));
    }

    @Test
    void bootCpuidAndMinimalTree() {
        byte[] dtb = new FdtBuilder().bootCpuidPhys(3).beginNode("").endNode().finish();
        ByteBuffer h = ByteBuffer.wrap(dtb);
        assertEquals(3, h.getInt(28));
        assertEquals(0, h.getInt(32), "no strings");
        assertEquals(16, h.getInt(36), "BEGIN_NODE, name, END_NODE, END");
        assertEquals(40 + 16 + 16, dtb.length);
    }

    @Test
    void valueEncodingAndPadding() {
        FdtBuilder b = new FdtBuilder().beginNode("");
        b.propertyU64("x", 0x0102030405060708L);
        b.property("y", new byte[] {9});
        b.propertyU32("z", 0xAABBCCDD);
        byte[] dtb = b.endNode().finish();
        ByteBuffer h = ByteBuffer.wrap(dtb);
        int p = h.getInt(8) + 8; // past BEGIN_NODE and the padded empty name
        assertEquals(3, h.getInt(p));
        assertEquals(8, h.getInt(p + 4));
        assertEquals(0, h.getInt(p + 8), "name offset of x");
        assertEquals(0x0102030405060708L, h.getLong(p + 12));
        p += 20;
        assertEquals(3, h.getInt(p));
        assertEquals(1, h.getInt(p + 4));
        assertEquals(2, h.getInt(p + 8), "name offset of y after \"x\\0\"");
        assertEquals(9, dtb[p + 12]);
        assertEquals(0, dtb[p + 13] | dtb[p + 14] | dtb[p + 15], "padded with zeros");
        p += 16;
        assertEquals(3, h.getInt(p));
        assertEquals(0xAABBCCDD, h.getInt(p + 12));
        assertEquals(2, h.getInt(p + 16), "END_NODE");
    }

    @Test
    void misuseIsRejected() {
        assertThrows(IllegalStateException.class, () -> new FdtBuilder().propertyU32("a", 1));
        assertThrows(IllegalStateException.class, () -> new FdtBuilder().beginNode("x"));
        assertThrows(IllegalStateException.class, () -> new FdtBuilder().beginNode("").finish());
        assertThrows(IllegalStateException.class, () -> new FdtBuilder().endNode());
        assertThrows(IllegalStateException.class,
                () -> new FdtBuilder().beginNode("").beginNode("a").endNode().propertyEmpty("late"));
        assertThrows(IllegalArgumentException.class, () -> new FdtBuilder().beginNode("").beginNode("a/b"));
        FdtBuilder done = new FdtBuilder().beginNode("").endNode();
        done.finish();
        assertThrows(IllegalStateException.class, done::finish);
        assertThrows(IllegalStateException.class, () -> new FdtBuilder().beginNode("").endNode().beginNode(""));
    }

    @Test
    void dtcDecompilesIt(@TempDir Path dir) throws Exception {
        assumeTrue(dtcAvailable(), "dtc not installed");
        Path ours = dir.resolve("ours.dtb");
        Files.write(ours, sample());
        String text = dtc(dir, "-I", "dtb", "-O", "dts", ours.toString());

        assertTrue(text.startsWith("/dts-v1/;"), text);
        // dtc 1.6 prints string lists as one string with \0; newer versions as a comma list.
        assertTrue(text.contains("compatible = \"sifive,plic-1.0.0\", \"riscv,plic0\";")
                || text.contains("compatible = \"sifive,plic-1.0.0\\0riscv,plic0\";"), text);
        assertTrue(text.contains("bootargs = \"console=ttyS0 quiet\";"), text);
        assertTrue(text.matches("(?s).*reg = <0x0+ 0x80000000 0x0+ 0x20000000>;.*"), text);
        assertTrue(text.matches("(?s).*interrupts-extended = <0x0*1 0x0*b 0x0*1 0x0*9>;.*"), text);
        assertTrue(text.contains("raw = [01 02 03];"), text);
        assertTrue(text.contains("interrupt-controller;"), text);
        assertTrue(text.contains("serial@10000000 {"), text);

        // The same tree written by hand and compiled by dtc must decompile to the same text.
        Path src = dir.resolve("ref.dts");
        Path ref = dir.resolve("ref.dtb");
        Files.writeString(src, SAMPLE_DTS);
        dtc(dir, "-I", "dts", "-O", "dtb", "-o", ref.toString(), src.toString());
        String refText = dtc(dir, "-I", "dtb", "-O", "dts", ref.toString());
        assertEquals(refText, text);
    }

    private static int count(String s, String sub) {
        int n = 0;
        for (int i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + 1)) n++;
        return n;
    }

    private static boolean dtcAvailable() {
        try {
            Process p = new ProcessBuilder("dtc", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /** Runs dtc (warnings to a file, so they cannot fill a pipe) and returns its standard output. */
    private static String dtc(Path dir, String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add("dtc");
        cmd.add("-q");
        cmd.addAll(List.of(args));
        Path err = Files.createTempFile(dir, "dtc", ".err");
        Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "dtc timed out");
        assertEquals(0, p.exitValue(), "dtc " + cmd + ": " + Files.readString(err));
        return out;
    }
}
