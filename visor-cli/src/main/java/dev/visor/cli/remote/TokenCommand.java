package dev.visor.cli.remote;

import com.fasterxml.jackson.databind.JsonNode;
import dev.visor.cli.CliException;
import dev.visor.cli.remote.DaemonClient.Role;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code visor token}: the daemon's bearer tokens. */
@Command(name = "token",
        mixinStandardHelpOptions = true,
        description = "Manage a visor daemon's API tokens. Role: admin.",
        synopsisSubcommandLabel = "COMMAND",
        subcommands = {TokenCommand.ListTokens.class, TokenCommand.Create.class, TokenCommand.Delete.class},
        footer = {"", "Roles: viewer (read, console output), operator (+ start/stop, snapshots, resize, console input),",
                "admin (+ define/delete VMs, images, tokens, migrate, audit)."},
        usageHelpAutoWidth = true)
public final class TokenCommand extends RemoteCommand.Group {
    @Command(name = "list", aliases = "ls", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "List the tokens (not their secrets). Role: admin.")
    static final class ListTokens extends RemoteCommand.Formatted {
        @Override
        int run(DaemonClient client) throws CliException {
            JsonNode tokens = client.get(DaemonClient.API + "/tokens", Role.ADMIN);
            if (json()) {
                printJson(tokens);
                return 0;
            }
            Table t = new Table("NAME", "ROLE", "CREATED");
            for (JsonNode tk : tokens) t.add(Table.text(tk.path("name")), Table.text(tk.path("role")), Table.text(tk.path("created")));
            t.print(out());
            return 0;
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "Create a token and print its secret (only now: the daemon keeps a hash). Role: admin.",
            footer = {"", "The secret alone goes to stdout: TOKEN=$(visor token create ci --role operator)"})
    static final class Create extends RemoteCommand.Formatted {
        enum TokenRole { viewer, operator, admin }

        @Parameters(index = "0", paramLabel = "NAME", description = "Its name (shown in the audit log).")
        String name;

        @Option(names = {"-r", "--role"}, required = true, paramLabel = "viewer|operator|admin", description = "What it may do.")
        TokenRole role;

        @Override
        int run(DaemonClient client) throws CliException {
            JsonNode t = client.post(DaemonClient.API + "/tokens", object().put("name", name).put("role", role.name()), Role.ADMIN);
            if (json()) {
                printJson(t);
                return 0;
            }
            if (!t.path("token").isTextual()) throw new CliException("the daemon created token '" + name + "' but did not send its secret");
            println(t.path("token").asText());
            err().println("visor: token '" + name + "' (" + role.name() + ") created; its secret is shown only this once");
            err().flush();
            return 0;
        }
    }

    @Command(name = "delete", aliases = "rm", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "Delete a token: the daemon refuses it from now on. Role: admin.")
    static final class Delete extends RemoteCommand {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Override
        int run(DaemonClient client) throws CliException {
            client.delete(DaemonClient.API + "/tokens/" + DaemonClient.segment(name), Role.ADMIN);
            println(name + ": deleted");
            return 0;
        }
    }
}
