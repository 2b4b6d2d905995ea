package dev.visor.cli.remote;

import com.fasterxml.jackson.databind.JsonNode;
import dev.visor.cli.CliException;
import dev.visor.cli.remote.DaemonClient.Role;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code visor audit}: the daemon's audit log. */
@Command(name = "audit", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
        description = "Show a visor daemon's audit log (who changed what), newest first. Role: admin.")
public final class AuditCommand extends RemoteCommand.Formatted {
    @Option(names = {"-n", "--limit"}, paramLabel = "N", description = "At most N entries (default: the daemon's, 100).")
    Integer limit;

    @Override
    int run(DaemonClient client) throws CliException {
        if (limit != null && limit < 1) throw bad("--limit must be at least 1 (got " + limit + ")");
        JsonNode entries = client.get(DaemonClient.API + "/audit" + (limit != null ? "?limit=" + limit : ""), Role.ADMIN);
        if (json()) {
            printJson(entries);
            return 0;
        }
        Table t = new Table("ID", "TIME", "WHO", "METHOD", "PATH", "STATUS", "REMOTE");
        for (JsonNode e : entries) {
            t.add(Table.text(e.path("id")), Table.text(e.path("time")), Table.text(e.path("who")), Table.text(e.path("method")),
                    Table.text(e.path("path")), Table.text(e.path("status")), Table.text(e.path("remote")));
        }
        t.print(out());
        return 0;
    }
}
