package dev.visor.daemon.store;

import dev.visor.daemon.model.DiskRef;
import dev.visor.daemon.model.RestartPolicy;
import dev.visor.daemon.model.VmDefinition;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.List;

/** Definitions and plain-JDBC access shared by the store tests. */
final class StoreFixtures {
    private StoreFixtures() {}

    /** A definition as the API's defaults would make it. */
    static VmDefinition simple(String name) {
        return new VmDefinition(name, 1, 512L << 20, List.of(), List.of("user"), true, false, null, false,
                RestartPolicy.NEVER, null);
    }

    /** A definition where every field differs from its default, with text that needs escaping in JSON. */
    static VmDefinition full(String name) {
        return new VmDefinition(name, 3, (3L << 30) + 4096,
                List.of(new DiskRef("root.qcow2", false), new DiskRef("data \"ü\".raw", true)),
                List.of("user,hostfwd=tcp::2222-:22", "switch:/run/visor/sw0"),
                false, true, "console=ttyS0 root=/dev/vda quote=\" backslash=\\ tab=\t é", true,
                RestartPolicy.ON_FAILURE, "base/s1");
    }

    /** A second connection straight to the file, bypassing the store (as sqlite3 would). */
    static Connection plainJdbc(Path file) throws SQLException {
        return DriverManager.getConnection("jdbc:sqlite:" + file);
    }
}
