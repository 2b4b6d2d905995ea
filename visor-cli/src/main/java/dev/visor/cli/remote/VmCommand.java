package dev.visor.cli.remote;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.visor.cli.CliException;
import dev.visor.cli.remote.DaemonClient.Role;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** {@code visor vm}: the VMs of a visor daemon. */
@Command(name = "vm",
        mixinStandardHelpOptions = true,
        description = "Define, run and manage the VMs of a visor daemon (visord).",
        synopsisSubcommandLabel = "COMMAND",
        subcommands = {VmCommand.Create.class, VmCommand.ListVms.class, VmCommand.Show.class,
                VmCommand.Start.class, VmCommand.Stop.class, VmCommand.Kill.class, VmCommand.Reboot.class,
                VmCommand.Pause.class, VmCommand.Resume.class, VmCommand.Delete.class, VmCommand.Update.class,
                VmCommand.Disk.class, VmCommand.SnapshotCreate.class, VmCommand.Snapshots.class,
                VmCommand.SnapshotDelete.class, VmCommand.Migrate.class, ConsoleCommand.class, VmCommand.Log.class},
        footer = {"", "The daemon: --daemon URL, else $VISOR_DAEMON, else " + DaemonOptions.DEFAULT_URL + ".",
                "The token: --token TOKEN, else $VISOR_TOKEN, else the admin.token file in the",
                "daemon's state directory ($VISOR_STATE_DIR, else /var/lib/visor for root, else",
                "~/.local/share/visor) when it is readable."},
        usageHelpAutoWidth = true)
public final class VmCommand extends RemoteCommand.Group {
    static final Set<String> RESTART_POLICIES = Set.of("never", "on-failure", "always");

    // ---- define

    @Command(name = "create", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "Define a VM (it is not started: 'visor vm start NAME'). Role: admin.")
    static final class Create extends RemoteCommand.Formatted {
        @Parameters(index = "0", paramLabel = "NAME", description = "1 to 32 of a-z, 0-9 and -, not starting with -.")
        String name;

        @Option(names = "--cpus", paramLabel = "N", description = "Virtual CPUs, 1 to 64 (default: 1).")
        Integer cpus;

        @Option(names = {"-m", "--memory"}, paramLabel = "SIZE", description = "Guest RAM, 16M to 64G (default: 512M).")
        String memory;

        @Option(names = "--disk", paramLabel = "IMAGE[,readonly=on]",
                description = "An image of the daemon's store as a virtio disk (repeatable; the first is /dev/vda).")
        List<String> disks = new ArrayList<>();

        @Option(names = "--net", paramLabel = "SPEC",
                description = "A virtio NIC as 'visor run --net' takes it: user[,hostfwd=..], switch:PATH, tap:NAME, "
                        + "or none (repeatable; default: user).")
        List<String> nets = new ArrayList<>();

        @Option(names = "--no-rng", description = "No virtio-rng.")
        boolean noRng;

        @Option(names = "--balloon", description = "A virtio-balloon.")
        boolean balloon;

        @Option(names = "--append", paramLabel = "STR", description = "Kernel command line (default: visor run's).")
        String append;

        @Option(names = "--autostart", description = "Start the VM when the daemon starts.")
        boolean autostart;

        @Option(names = "--restart", paramLabel = "never|on-failure|always",
                description = "When the VMM process ends without being asked to: leave it (never, the default), "
                        + "start it again after a failure, or always.")
        String restart;

        @Option(names = "--from-snapshot", paramLabel = "VM/SNAP",
                description = "Make the VM a clone of that snapshot: it resumes from it instead of booting "
                        + "(cpus, memory and disks come from the snapshot).")
        String snapshot;

        @Override
        int run(DaemonClient client) throws CliException {
            ObjectNode body = object().put("name", name);
            if (cpus != null) body.put("cpus", cpus);
            if (memory != null) body.put("memory", memory.strip());
            if (!disks.isEmpty()) {
                ArrayNode d = body.putArray("disks");
                for (String disk : disks) d.add(disk(disk));
            }
            if (!nets.isEmpty()) {
                ArrayNode n = body.putArray("nets");
                nets.forEach(n::add);
            }
            if (noRng) body.put("rng", false);
            if (balloon) body.put("balloon", true);
            if (append != null) body.put("append", append);
            if (autostart) body.put("autostart", true);
            if (restart != null) body.put("restart", restart(this, restart));
            if (snapshot != null) {
                if (!snapshot.matches("[^/]+/[^/]+")) throw bad("--from-snapshot: '" + snapshot + "' is not VM/SNAP");
                body.put("snapshot", snapshot);
            }
            JsonNode vm = client.post(DaemonClient.API + "/vms", body, Role.ADMIN);
            if (json()) printJson(vm);
            else println(name + ": defined" + (vm.path("state").isTextual() ? " (" + vm.path("state").asText() + ")" : ""));
            return 0;
        }

        /** IMAGE[,readonly=on|off] as {"image","readonly"}. */
        private ObjectNode disk(String spec) {
            String[] parts = spec.split(",");
            if (parts[0].isBlank()) throw bad("--disk '" + spec + "': no image name");
            ObjectNode d = object().put("image", parts[0].strip());
            boolean readonly = false;
            for (int i = 1; i < parts.length; i++) {
                String p = parts[i].strip();
                if (p.equals("readonly") || p.equals("ro")) readonly = true;
                else if (p.startsWith("readonly=")) readonly = onOff("--disk " + spec, p.substring(9));
                else throw bad("--disk '" + spec + "': unknown option '" + p + "' (only readonly=on|off)");
            }
            return d.put("readonly", readonly);
        }

        private boolean onOff(String where, String v) {
            return switch (v) {
                case "on", "true", "yes" -> true;
                case "off", "false", "no" -> false;
                default -> throw bad(where + ": '" + v + "' is not on or off");
            };
        }
    }

    static String restart(RemoteCommand c, String policy) {
        String p = policy.strip();
        if (!RESTART_POLICIES.contains(p)) throw c.bad("--restart must be never, on-failure or always (got '" + policy + "')");
        return p;
    }

    // ---- read

    @Command(name = "list", aliases = "ls", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "List the VMs. Role: viewer.")
    static final class ListVms extends RemoteCommand.Formatted {
        @Override
        int run(DaemonClient client) throws CliException {
            JsonNode vms = client.get(DaemonClient.API + "/vms", Role.VIEWER);
            if (json()) {
                printJson(vms);
                return 0;
            }
            Table t = new Table("NAME", "STATE", "CPUS", "MEMORY", "PID", "AUTOSTART", "RESTART");
            for (JsonNode vm : vms) {
                t.add(Table.text(vm.path("name")), Table.text(vm.path("state")), Table.text(vm.path("cpus")),
                        Table.size(vm.path("memoryBytes")), Table.pid(vm.path("pid")), Table.yesNo(vm.path("autostart")),
                        Table.text(vm.path("restart")));
            }
            t.print(out());
            return 0;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "Show a VM: its definition and its process. Role: viewer.")
    static final class Show extends RemoteCommand.Formatted {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Override
        int run(DaemonClient client) throws CliException {
            JsonNode vm = client.get(vmPath(name), Role.VIEWER);
            if (json()) {
                printJson(vm);
                return 0;
            }
            List<String> disks = new ArrayList<>();
            int i = 0;
            for (JsonNode d : vm.path("disks")) {
                disks.add(Table.device(i++) + " " + Table.text(d.path("image")) + (d.path("readonly").asBoolean() ? " (readonly)" : ""));
            }
            List<String> nets = new ArrayList<>();
            for (JsonNode n : vm.path("nets")) nets.add(n.asText());
            new Table.Fields()
                    .add("name", Table.text(vm.path("name")))
                    .add("id", Table.text(vm.path("id")))
                    .add("state", Table.text(vm.path("state")))
                    .add("cpus", Table.text(vm.path("cpus")))
                    .add("memory", Table.size(vm.path("memoryBytes")))
                    .add("disks", disks.isEmpty() ? "none" : String.join(", ", disks))
                    .add("nets", nets.isEmpty() ? "none" : String.join(", ", nets))
                    .add("rng", Table.onOff(vm.path("rng")))
                    .add("balloon", Table.onOff(vm.path("balloon")))
                    .add("append", vm.path("append").isTextual() ? vm.path("append").asText() : "(default)")
                    .add("autostart", Table.yesNo(vm.path("autostart")))
                    .add("restart", Table.text(vm.path("restart")))
                    .add("snapshot", Table.text(vm.path("snapshot")))
                    .add("label", Table.text(vm.path("label")))
                    .add("pid", Table.pid(vm.path("pid")))
                    .add("exit code", Table.text(vm.path("exitCode")))
                    .add("last error", Table.text(vm.path("lastError")))
                    .add("restarts", Table.text(vm.path("restarts")))
                    .add("created", Table.text(vm.path("created")))
                    .add("started", Table.text(vm.path("startedAt")))
                    .print(out());
            return 0;
        }
    }

    // ---- lifecycle

    /** POST /vms/{name}/{action} → VM: "NAME: STATE". */
    abstract static class Lifecycle extends RemoteCommand.Formatted {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        private final String action;

        Lifecycle(String action) {
            this.action = action;
        }

        @Override
        int run(DaemonClient client) throws CliException {
            JsonNode vm = client.post(vmPath(name) + "/" + action, null, Role.OPERATOR);
            if (json()) printJson(vm);
            else println(name + ": " + (vm.path("state").isTextual() ? vm.path("state").asText() : "done"));
            return 0;
        }
    }

    @Command(name = "start", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "Start a VM; returns when it runs (or with why it did not). Role: operator.")
    static final class Start extends Lifecycle {
        Start() { super("start"); }
    }

    @Command(name = "stop", aliases = "shutdown", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "Stop a VM cleanly: its disks are flushed and its VMM exits. Role: operator.")
    static final class Stop extends Lifecycle {
        Stop() { super("shutdown"); }
    }

    @Command(name = "kill", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "Kill a VM's VMM process (SIGKILL); the restart policy does not restart it. Role: operator.")
    static final class Kill extends Lifecycle {
        Kill() { super("kill"); }
    }

    @Command(name = "reboot", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "Stop a VM cleanly, then start it. Role: operator.")
    static final class Reboot extends Lifecycle {
        Reboot() { super("reboot"); }
    }

    @Command(name = "pause", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "Pause a VM (no time passes for the guest). Role: operator.")
    static final class Pause extends Lifecycle {
        Pause() { super("pause"); }
    }

    @Command(name = "resume", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "Resume a paused VM. Role: operator.")
    static final class Resume extends Lifecycle {
        Resume() { super("resume"); }
    }

    @Command(name = "delete", aliases = "rm", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "Delete a stopped VM (its images stay in the store). Role: admin.")
    static final class Delete extends RemoteCommand {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Override
        int run(DaemonClient client) throws CliException {
            client.delete(vmPath(name), Role.ADMIN);
            println(name + ": deleted");
            return 0;
        }
    }

    @Command(name = "update", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "Change a VM's settings; --cpus, --memory, --net and --append only while it is stopped. Role: admin.")
    static final class Update extends RemoteCommand.Formatted {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Option(names = "--autostart", negatable = true, description = "Start (or not) the VM when the daemon starts.")
        Boolean autostart;

        @Option(names = "--restart", paramLabel = "never|on-failure|always", description = "The restart policy.")
        String restart;

        @Option(names = "--cpus", paramLabel = "N", description = "Virtual CPUs, 1 to 64.")
        Integer cpus;

        @Option(names = {"-m", "--memory"}, paramLabel = "SIZE", description = "Guest RAM, 16M to 64G.")
        String memory;

        @Option(names = "--net", paramLabel = "SPEC", description = "The NICs, all of them (repeatable; 'none' for none).")
        List<String> nets = new ArrayList<>();

        @Option(names = "--append", paramLabel = "STR", description = "Kernel command line; '' for the default.")
        String append;

        @Override
        int run(DaemonClient client) throws CliException {
            ObjectNode body = object();
            if (autostart != null) body.put("autostart", autostart);
            if (restart != null) body.put("restart", restart(this, restart));
            if (cpus != null) body.put("cpus", cpus);
            if (memory != null) body.put("memory", memory.strip());
            if (!nets.isEmpty()) {
                ArrayNode n = body.putArray("nets");
                nets.forEach(n::add);
            }
            if (append != null) {
                if (append.isEmpty()) body.putNull("append");
                else body.put("append", append);
            }
            if (body.isEmpty()) throw bad("nothing to change: give --autostart, --no-autostart, --restart, --cpus, --memory, --net or --append");
            JsonNode vm = client.patch(vmPath(name), body, Role.ADMIN);
            if (json()) printJson(vm);
            else println(name + ": updated");
            return 0;
        }
    }

    // ---- disks

    @Command(name = "disk", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "A VM's disks.", synopsisSubcommandLabel = "COMMAND",
            subcommands = {Disk.Attach.class, Disk.Resize.class})
    static final class Disk extends RemoteCommand.Group {
        @Command(name = "attach", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
                description = "Add an image of the store to a stopped VM as its next disk. Role: admin.")
        static final class Attach extends RemoteCommand.Formatted {
            @Parameters(index = "0", paramLabel = "NAME", description = "The VM.")
            String name;

            @Parameters(index = "1", paramLabel = "IMAGE", description = "An image in the daemon's store ('visor store list').")
            String image;

            @Option(names = "--readonly", description = "The guest cannot write to it.")
            boolean readonly;

            @Override
            int run(DaemonClient client) throws CliException {
                JsonNode vm = client.post(vmPath(name) + "/disks", object().put("image", image).put("readonly", readonly), Role.ADMIN);
                if (json()) {
                    printJson(vm);
                    return 0;
                }
                int index = -1, i = 0;
                for (JsonNode d : vm.path("disks")) {
                    if (image.equals(d.path("image").asText())) index = i;
                    i++;
                }
                println(name + ": " + image + " attached" + (index >= 0 ? " as " + Table.device(index) : ""));
                return 0;
            }
        }

        @Command(name = "resize", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
                description = "Grow a VM's disk, running or stopped (a running guest sees the new size at once). Role: operator.")
        static final class Resize extends RemoteCommand.Formatted {
            @Parameters(index = "0", paramLabel = "NAME", description = "The VM.")
            String name;

            @Parameters(index = "1", paramLabel = "DEV", description = "The disk: vda, vdb, ...")
            String device;

            @Parameters(index = "2", paramLabel = "SIZE", description = "The new size: 2G, 10G, ...")
            String size;

            @Override
            int run(DaemonClient client) throws CliException {
                JsonNode r = client.post(vmPath(name) + "/disks/" + DaemonClient.segment(device) + "/resize",
                        object().put("size", size.strip()), Role.OPERATOR);
                if (json()) printJson(r);
                else println(name + " " + device + ": " + Table.size(r.path("sizeBytes"))
                        + " (" + Table.text(r.path("sizeBytes")) + " bytes)");
                return 0;
            }
        }
    }

    // ---- snapshots

    @Command(name = "snapshot", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "Snapshot a running or paused VM (RAM, devices, disks); "
                    + "'visor vm create NEW --from-snapshot NAME/SNAP' clones it. Role: operator.")
    static final class SnapshotCreate extends RemoteCommand.Formatted {
        @Parameters(index = "0", paramLabel = "NAME", description = "The VM.")
        String name;

        @Parameters(index = "1", paramLabel = "SNAP", description = "The snapshot's name.")
        String snapshot;

        @Override
        int run(DaemonClient client) throws CliException {
            JsonNode s = client.post(vmPath(name) + "/snapshots", object().put("name", snapshot), Role.OPERATOR);
            if (json()) printJson(s);
            else println(name + "/" + snapshot + ": saved (RAM "
                    + Table.human(s.path("ramBytes")) + ") in " + Table.text(s.path("path")));
            return 0;
        }
    }

    @Command(name = "snapshots", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "List a VM's snapshots. Role: viewer.")
    static final class Snapshots extends RemoteCommand.Formatted {
        @Parameters(index = "0", paramLabel = "NAME", description = "The VM.")
        String name;

        @Override
        int run(DaemonClient client) throws CliException {
            JsonNode list = client.get(vmPath(name) + "/snapshots", Role.VIEWER);
            if (json()) {
                printJson(list);
                return 0;
            }
            Table t = new Table("NAME", "CREATED", "RAM", "PATH");
            for (JsonNode s : list) {
                t.add(Table.text(s.path("name")), Table.text(s.path("created")), Table.human(s.path("ramBytes")), Table.text(s.path("path")));
            }
            t.print(out());
            return 0;
        }
    }

    @Command(name = "snapshot-delete", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "Delete a snapshot. Role: admin.")
    static final class SnapshotDelete extends RemoteCommand {
        @Parameters(index = "0", paramLabel = "NAME", description = "The VM.")
        String name;

        @Parameters(index = "1", paramLabel = "SNAP", description = "The snapshot.")
        String snapshot;

        @Override
        int run(DaemonClient client) throws CliException {
            client.delete(vmPath(name) + "/snapshots/" + DaemonClient.segment(snapshot), Role.ADMIN);
            println(name + "/" + snapshot + ": deleted");
            return 0;
        }
    }

    // ---- migration

    @Command(name = "migrate", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "Live-migrate a VM to another host's daemon; returns when it runs there "
                    + "(on failure it runs on here). Role: admin (here and there).")
    static final class Migrate extends RemoteCommand.Formatted {
        @Parameters(index = "0", paramLabel = "NAME", description = "The VM.")
        String name;

        @Option(names = "--to", required = true, paramLabel = "URL", description = "The destination daemon, e.g. http://host2:7445.")
        String destination;

        @Option(names = "--to-token", required = true, paramLabel = "TOKEN", description = "An admin token of the destination daemon.")
        String destinationToken;

        @Option(names = "--copy-storage", description = "Copy the writable disks too (no shared storage).")
        boolean copyStorage;

        @Option(names = "--downtime", paramLabel = "MS", description = "The downtime target in milliseconds (default: the daemon's, 300).")
        Integer downtimeMs;

        @Override
        int run(DaemonClient client) throws CliException {
            if (downtimeMs != null && downtimeMs < 1) throw bad("--downtime must be at least 1 ms (got " + downtimeMs + ")");
            String to = destination.strip().contains("://") ? destination.strip() : "http://" + destination.strip();
            ObjectNode body = object().put("destination", to).put("token", destinationToken).put("copyStorage", copyStorage);
            if (downtimeMs != null) body.put("downtimeMs", downtimeMs);
            JsonNode r = client.post(vmPath(name) + "/migrate", body, Role.ADMIN);
            if (json()) printJson(r);
            else println(name + ": migrated to " + Table.text(r.path("destination")) + " in " + Table.text(r.path("totalMs"))
                    + " ms (downtime " + Table.text(r.path("downtimeMs")) + " ms)");
            return 0;
        }
    }

    // ---- console scroll-back

    @Command(name = "log", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = "Print the end of a VM's console output (its scroll-back). Role: viewer.")
    static final class Log extends RemoteCommand {
        @Parameters(index = "0", paramLabel = "NAME", description = "The VM.")
        String name;

        @Option(names = "--bytes", paramLabel = "N", description = "At most the last N bytes (default: the daemon's, 65536).")
        Long bytes;

        @Override
        int run(DaemonClient client) throws CliException {
            if (bytes != null && bytes < 1) throw bad("--bytes must be at least 1 (got " + bytes + ")");
            byte[] log = client.bytes(vmPath(name) + "/console/log" + (bytes != null ? "?bytes=" + bytes : ""), Role.VIEWER);
            PrintStream stdout = System.out; // the guest's bytes as they are, not through a charset
            stdout.write(log, 0, log.length);
            stdout.flush();
            return 0;
        }
    }
}
