package dev.visor.cli.remote;

import com.fasterxml.jackson.databind.JsonNode;
import dev.visor.cli.CliException;
import dev.visor.cli.remote.DaemonClient.Role;
import picocli.CommandLine.Command;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** {@code visor host}: the daemon's host. */
@Command(name = "host", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
        description = "Show a visor daemon's host: CPUs, memory, load, temperatures, VMs. Role: viewer.")
public final class HostCommand extends RemoteCommand.Formatted {
    @Override
    int run(DaemonClient client) throws CliException {
        JsonNode h = client.get(DaemonClient.API + "/host", Role.VIEWER);
        if (json()) {
            printJson(h);
            return 0;
        }
        List<String> load = new ArrayList<>();
        for (JsonNode l : h.path("loadAverage")) load.add(String.format(Locale.ROOT, "%.2f", l.asDouble()));
        List<String> temps = new ArrayList<>();
        for (JsonNode t : h.path("temperatures")) {
            temps.add(Table.text(t.path("sensor")) + " " + String.format(Locale.ROOT, "%.1f C", t.path("celsius").asDouble()));
        }
        String memory = Table.human(h.path("memoryBytes"));
        if (h.path("memoryAvailableBytes").canConvertToLong()) memory += " (" + Table.human(h.path("memoryAvailableBytes")) + " available)";
        new Table.Fields()
                .add("hostname", Table.text(h.path("hostname")))
                .add("version", Table.text(h.path("version")))
                .add("cpu", Table.text(h.path("cpuModel")))
                .add("cores", Table.text(h.path("cores")))
                .add("memory", memory)
                .add("load", load.isEmpty() ? null : String.join(" ", load))
                .add("temperatures", temps.isEmpty() ? null : String.join(", ", temps))
                .add("cgroup v2", Table.yesNo(h.path("cgroupV2")))
                .add("vms", Table.text(h.path("vms").path("total")) + " (" + Table.text(h.path("vms").path("running")) + " running)")
                .add("state dir", Table.text(h.path("stateDir")))
                .add("daemon", client.base())
                .print(out());
        return 0;
    }
}
