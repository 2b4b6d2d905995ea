package dev.visor.cli.remote;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.visor.cli.CliException;
import dev.visor.cli.remote.DaemonClient.Role;
import picocli.CommandLine.Command;

import java.util.ArrayList;
import java.util.List;

/** {@code visor events}: follows the daemon's server-sent events, one line per event. */
@Command(name = "events", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
        description = "Follow a visor daemon's events (VM state changes, definitions, snapshots, migrations), "
                + "one line each, until interrupted. Role: viewer.",
        footer = {"", "Table: TIME VM TYPE STATE [DETAIL]; json: each event's JSON on one line."})
public final class EventsCommand extends RemoteCommand.Formatted {
    @Override
    int run(DaemonClient client) throws CliException {
        Sse sse = new Sse();
        client.lines(DaemonClient.API + "/events", "text/event-stream", Role.VIEWER, line -> {
            String data = sse.feed(line);
            if (data != null) print(data);
        });
        throw new CliException("the daemon at " + client.base() + " ended the event stream");
    }

    private void print(String data) {
        JsonNode e;
        try {
            e = DaemonClient.JSON.readTree(data);
        } catch (JsonProcessingException notJson) {
            println(DaemonClient.oneLine(data));
            return;
        }
        if (json()) {
            println(e.toString());
            return;
        }
        StringBuilder line = new StringBuilder();
        line.append(or(Table.text(e.path("time")))).append(' ')
                .append(or(Table.text(e.path("vm")))).append(' ')
                .append(or(Table.text(e.path("type")))).append(' ')
                .append(or(Table.text(e.path("state"))));
        String detail = Table.text(e.path("detail"));
        if (detail != null && !detail.isBlank()) line.append(' ').append(DaemonClient.oneLine(detail));
        println(line.toString());
    }

    private static String or(String s) {
        return s == null ? "-" : s;
    }

    /** Server-sent events: lines in, each event's data out once its blank line comes. */
    static final class Sse {
        private final List<String> data = new ArrayList<>();

        /** The event's data when {@code line} ends one, else null. */
        String feed(String line) {
            if (line.isEmpty()) {
                if (data.isEmpty()) return null;
                String d = String.join("\n", data);
                data.clear();
                return d;
            }
            if (line.startsWith(":")) return null; // a comment: keep-alive
            int colon = line.indexOf(':');
            String field = colon < 0 ? line : line.substring(0, colon);
            String value = colon < 0 ? "" : line.substring(colon + 1);
            if (value.startsWith(" ")) value = value.substring(1);
            if (field.equals("data")) data.add(value);
            return null; // event, id, retry: the type is in the data too
        }
    }
}
