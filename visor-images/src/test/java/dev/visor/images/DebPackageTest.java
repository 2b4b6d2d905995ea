package dev.visor.images;

import org.apache.commons.compress.archivers.ar.ArArchiveEntry;
import org.apache.commons.compress.archivers.ar.ArArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tukaani.xz.LZMA2Options;
import org.tukaani.xz.XZOutputStream;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DebPackageTest {
    private static final byte[] MODULE = "\u007fELF\u0002\u0001 a module of twenty or more bytes".getBytes(StandardCharsets.ISO_8859_1);

    @TempDir
    Path dir;

    /** A package laid out as dpkg-deb makes them: "./"-prefixed paths, directories, a symlink. */
    private Path sampleDeb(String compression) throws IOException {
        Map<String, byte[]> data = new LinkedHashMap<>();
        data.put("./usr/bin/hello", "#!/bin/sh\necho hello\n".getBytes(StandardCharsets.UTF_8));
        data.put("./usr/lib/modules/1.0/kernel/drivers/virtio/virtio_mmio.ko.xz", xz(MODULE));
        data.put("./usr/share/doc/hello/copyright", "free\n".getBytes(StandardCharsets.UTF_8));
        String control = "Package: hello\nVersion: 1:2.0-1\nArchitecture: riscv64\nDescription: greets\n long text\n";
        return deb("hello_2.0-1_riscv64.deb", compression,
                tar(Map.of("./control", control.getBytes(StandardCharsets.UTF_8))), tar(data));
    }

    @Test
    void listsAndReadsFilesOfAnXzPackage() throws IOException {
        DebPackage deb = new DebPackage(sampleDeb("xz"));

        assertEquals(List.of("usr/bin/hello", "usr/lib/modules/1.0/kernel/drivers/virtio/virtio_mmio.ko.xz",
                "usr/share/doc/hello/copyright"), deb.list());
        assertEquals("#!/bin/sh\necho hello\n",
                new String(deb.readFile("./usr/bin/hello").orElseThrow(), StandardCharsets.UTF_8));
        assertEquals(Optional.empty(), deb.readFile("usr/bin/absent"));
    }

    @Test
    void selectsByGlobAndDecompressesModules() throws IOException {
        DebPackage deb = new DebPackage(sampleDeb("xz"));
        Map<String, byte[]> modules = deb.readFiles(DebPackage.glob("usr/lib/modules/*/kernel/**.ko.xz"));
        assertEquals(1, modules.size());

        var entry = modules.entrySet().iterator().next();
        assertEquals(Optional.of("virtio_mmio"), KernelModules.moduleStem(entry.getKey()));
        assertArrayEquals(MODULE, KernelModules.readModule(entry.getKey(),
                new java.io.ByteArrayInputStream(entry.getValue())));
    }

    @Test
    void extractsIntoADirectory() throws IOException {
        DebPackage deb = new DebPackage(sampleDeb("gz"));
        Path out = dir.resolve("out");
        List<Path> written = deb.extract(p -> p.startsWith("usr/bin/") || p.endsWith("copyright"), out);

        assertEquals(List.of(out.resolve("usr/bin/hello"), out.resolve("usr/share/doc/hello/copyright")), written);
        assertEquals("free\n", Files.readString(out.resolve("usr/share/doc/hello/copyright")));
    }

    @Test
    void readsTheControlFields() throws IOException {
        Map<String, String> control = new DebPackage(sampleDeb("xz")).control();
        assertEquals("hello", control.get("Package"));
        assertEquals("1:2.0-1", control.get("Version"));
        assertEquals("greets\nlong text", control.get("Description"));
    }

    @Test
    void refusesUnknownCompressionAndNonPackages() throws IOException {
        ImageException zst = assertThrows(ImageException.class, () -> new DebPackage(sampleDeb("zst")).list());
        assertTrue(zst.getMessage().contains("data.tar.zst"), zst.getMessage());

        Path text = Files.writeString(dir.resolve("not.deb"), "hello");
        assertThrows(ImageException.class, () -> new DebPackage(text).list());

        Path noDebianBinary = dir.resolve("other.deb");
        try (ArArchiveOutputStream ar = new ArArchiveOutputStream(Files.newOutputStream(noDebianBinary))) {
            member(ar, "readme", "x".getBytes(StandardCharsets.UTF_8));
        }
        ImageException e = assertThrows(ImageException.class, () -> new DebPackage(noDebianBinary).list());
        assertTrue(e.getMessage().contains("not a Debian package"), e.getMessage());
    }

    private Path deb(String name, String compression, byte[] controlTar, byte[] dataTar) throws IOException {
        Path file = dir.resolve(compression + "-" + name);
        try (ArArchiveOutputStream ar = new ArArchiveOutputStream(Files.newOutputStream(file))) {
            member(ar, "debian-binary", "2.0\n".getBytes(StandardCharsets.US_ASCII));
            member(ar, "control.tar.xz", xz(controlTar));
            member(ar, "data.tar." + compression, switch (compression) {
                case "xz" -> xz(dataTar);
                case "gz" -> gzip(dataTar);
                default -> dataTar; // pretend: the reader must refuse it by name
            });
        }
        return file;
    }

    private static void member(ArArchiveOutputStream ar, String name, byte[] content) throws IOException {
        ar.putArchiveEntry(new ArArchiveEntry(name, content.length));
        ar.write(content);
        ar.closeArchiveEntry();
    }

    private static byte[] tar(Map<String, byte[]> files) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(out)) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            TarArchiveEntry root = new TarArchiveEntry("./");
            tar.putArchiveEntry(root);
            tar.closeArchiveEntry();
            TarArchiveEntry link = new TarArchiveEntry("./usr/bin/hi", TarArchiveEntry.LF_SYMLINK);
            link.setLinkName("hello");
            tar.putArchiveEntry(link);
            tar.closeArchiveEntry();
            for (var file : files.entrySet()) {
                TarArchiveEntry entry = new TarArchiveEntry(file.getKey());
                entry.setSize(file.getValue().length);
                tar.putArchiveEntry(entry);
                tar.write(file.getValue());
                tar.closeArchiveEntry();
            }
        }
        return out.toByteArray();
    }

    private static byte[] xz(byte[] data) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (OutputStream xz = new XZOutputStream(out, new LZMA2Options())) {
            xz.write(data);
        }
        return out.toByteArray();
    }

    private static byte[] gzip(byte[] data) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (OutputStream gz = new GZIPOutputStream(out)) {
            gz.write(data);
        }
        return out.toByteArray();
    }
}
