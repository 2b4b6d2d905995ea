package dev.visor.daemon.security;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/** Readable copies under the state dir: hard links for others-readable files, 0644 copies else; reused while unchanged. */
class StagingTest {
    @TempDir
    Path tmp;

    @Test
    void stagesLinksOrCopiesAndReusesAnUnchangedSet() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("home/.m2"));
        Path open = Files.writeString(src.resolve("open.jar"), "jar");
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rw-r--r--"));
        Path closed = Files.writeString(src.resolve("closed.jar"), "secret-ish");
        Files.setPosixFilePermissions(closed, PosixFilePermissions.fromString("rw-------"));
        Path classes = Files.createDirectories(src.resolve("classes/dev"));
        Files.writeString(classes.resolve("A.class"), "cafebabe");
        Path root = tmp.resolve("state/lib");

        Map<String, Path> entries = Map.of("0-open.jar", open, "1-closed.jar", closed, "2-classes", src.resolve("classes"));
        Path stage = Staging.stage(root, entries);
        assertEquals(root, stage.getParent());
        assertEquals("jar", Files.readString(stage.resolve("0-open.jar")));
        assertEquals("secret-ish", Files.readString(stage.resolve("1-closed.jar")));
        assertEquals("cafebabe", Files.readString(stage.resolve("2-classes/dev/A.class")));
        assertEquals(Files.getAttribute(open, "unix:ino"), Files.getAttribute(stage.resolve("0-open.jar"), "unix:ino"), "linked");
        assertNotEquals(Files.getAttribute(closed, "unix:ino"), Files.getAttribute(stage.resolve("1-closed.jar"), "unix:ino"), "copied");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(closed)), "the source is left alone");
        assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(stage.resolve("1-closed.jar"))));
        for (Path d : new Path[] {root, stage, stage.resolve("2-classes"), stage.resolve("2-classes/dev")}) {
            assertEquals("rwxr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(d)), d.toString());
        }

        assertEquals(stage, Staging.stage(root, entries), "unchanged: reused");
        Files.setLastModifiedTime(classes.resolve("A.class"), FileTime.fromMillis(System.currentTimeMillis() + 5000));
        Path next = Staging.stage(root, entries);
        assertNotEquals(stage, next, "changed: staged again");
        try (var s = Files.list(root)) {
            assertEquals(2, s.filter(p -> !p.getFileName().toString().startsWith(".")).count(), "no half-made stages left");
        }
    }

    @Test
    void nestedNamesGetOpenParents() throws Exception {
        Path image = Files.createDirectories(tmp.resolve("cache/images/default"));
        Files.writeString(image.resolve("Image"), "kernel");
        Path stage = Staging.stage(tmp.resolve("state/cache"), Map.of("images/default", image));
        assertEquals("kernel", Files.readString(stage.resolve("images/default/Image")));
        assertEquals("rwxr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(stage.resolve("images"))));
    }
}
