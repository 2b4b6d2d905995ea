package dev.visor.images;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class DebianArchiveTest {

    @Test
    void picksTheDebianArchiveNotSecurityOrUpdates() {
        List<String> lines = List.of(
                "http://deb.debian.org/debian-security/ bookworm-security Debian-Security",
                "http://deb.debian.org/debian/ bookworm-updates Debian",
                "https://download.docker.com/linux/debian/ bookworm Docker CE",
                "http://mirror.example/debian/ bookworm Debian");
        assertEquals(Optional.of(URI.create("http://mirror.example/debian/")), DebianArchive.chooseMirror(lines));
    }

    @Test
    void withoutLabelsFallsBackToADebianPath() {
        List<String> lines = List.of(
                "http://deb.debian.org/debian-security/ bookworm-security",
                "https://packages.example/apt/ stable",
                "http://deb.debian.org/debian bookworm");
        assertEquals(Optional.of(URI.create("http://deb.debian.org/debian/")), DebianArchive.chooseMirror(lines));
    }

    @Test
    void findsNothingOnAnUbuntuHost() {
        List<String> lines = List.of(
                "http://archive.ubuntu.com/ubuntu/ noble Ubuntu",
                "http://security.ubuntu.com/ubuntu/ noble-security Ubuntu",
                "cdrom://something/ bookworm Debian");
        assertEquals(Optional.empty(), DebianArchive.chooseMirror(lines));
    }

    @Test
    void dependencyNameDropsVersionsAlternativesAndArch() {
        assertEquals("linux-image-6.12.117+deb13-riscv64",
                DebianArchive.dependencyName("linux-image-6.12.117+deb13-riscv64 (= 6.12.117-1)"));
        assertEquals("a", DebianArchive.dependencyName("a:any (>= 1) | b, c"));
        assertEquals("a", DebianArchive.dependencyName("a(>=1)"));
    }

    @Test
    void unreachableArchiveIsAOneLineImageException(@TempDir Path state) throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/apt-get")), "needs apt");
        ByteArrayOutputStream progress = new ByteArrayOutputStream();
        // Port 9 (discard) on loopback: nothing listens, so the connection is refused at once.
        DebianArchive archive = new DebianArchive(state, URI.create("http://127.0.0.1:9/debian/"), new PrintStream(progress));

        ImageException e = assertThrows(ImageException.class, archive::update);

        assertTrue(e.getMessage().startsWith("cannot reach the Debian archive through apt (apt-get update failed: "),
                e.getMessage());
        assertTrue(e.getMessage().endsWith("check network/apt configuration"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
        assertTrue(Files.readString(state.resolve("sources.list")).equals(
                "deb [arch=riscv64] http://127.0.0.1:9/debian/ trixie main\n"));
    }

    @Test
    void theHostMirrorIsReadFromApt() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/apt-get")), "needs apt");
        URI mirror;
        try {
            mirror = DebianArchive.hostMirror();
        } catch (ImageException e) {
            assumeTrue(!e.getMessage().contains("has no Debian archive"), "host apt has no Debian source");
            throw e;
        }
        assertTrue(mirror.getScheme().startsWith("http"), mirror.toString());
    }
}
