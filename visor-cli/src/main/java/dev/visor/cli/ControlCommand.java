package dev.visor.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code visor control SOCKET COMMAND...}: one command to a VM started with {@code visor run --control SOCKET}. */
@Command(name = "control", mixinStandardHelpOptions = true,
        description = "Send a command to a running VM's control socket (visor run --control SOCKET).",
        footer = {"", "Commands:",
            "  info                 memory, disks and balloon of the VM",
            "  resize DISK SIZE     grow a disk image (e.g. resize vda 2G); the guest sees it at once",
            "  balloon [SIZE]       show the balloon, or set the guest's memory to SIZE by inflating it",
            "  status               running or paused",
            "  pause | resume       stop the guest (no time passes for it) / let it go on",
            "  snapshot [--paused] DIR  save the VM to a new directory;",
            "                       its disks are frozen (writes go on to overlays);",
            "                       'visor run --restore DIR' resumes it",
            "  migrate tcp:HOST:PORT [downtime=MS] [copy-storage=on]",
            "                       live-migrate the VM to 'visor run --incoming tcp:HOST:PORT' (default",
            "                       downtime target 300 ms); progress goes to the VM's stderr; on success",
            "                       this VM stops (its visor run exits 0), on failure it runs on;",
            "                       copy-storage=on copies the writable disks too (no shared storage):",
            "                       the destination's --disk names where each copy goes",
            "  migrate-status       phase, rounds, MB sent, dirty rate, expected downtime",
            "  stats                counters on one line: instret, vcpu_ns, disk_read_bytes,",
            "                       disk_write_bytes, disk_read_ops, disk_write_ops, net_rx_bytes,",
            "                       net_tx_bytes, net_rx_packets, net_tx_packets, memory, state",
            "  quit                 flush the disks and stop the VM (its visor run exits 0)"},
        usageHelpAutoWidth = true)
final class ControlCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "SOCKET", description = "The VM's control socket.")
    Path socket;

    @Parameters(index = "1..*", paramLabel = "COMMAND", arity = "1..*", description = "The command and its arguments.")
    List<String> command;

    @Spec
    CommandSpec spec;

    /** The VM resolves paths against its own directory: a snapshot's DIR is made absolute here. */
    static List<String> absolutePaths(List<String> command) {
        if (command.isEmpty() || !command.getFirst().equalsIgnoreCase("snapshot")) return command;
        List<String> out = new java.util.ArrayList<>(command);
        int last = out.size() - 1;
        if (last >= 1 && !out.get(last).startsWith("--")) out.set(last, Path.of(out.get(last)).toAbsolutePath().normalize().toString());
        return out;
    }

    @Override
    public Integer call() throws CliException {
        if (!Files.exists(socket)) throw new CliException("no VM control socket at " + socket + " (start the VM with --control " + socket + ")");
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ch.write(StandardCharsets.UTF_8.encode(String.join(" ", absolutePaths(command)) + "\n"));
            String answer = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8)).readLine();
            if (answer == null) throw new CliException("the VM closed its control socket without answering");
            if (answer.startsWith("error: ")) throw new CliException(answer.substring(7));
            spec.commandLine().getOut().println(answer.startsWith("ok ") ? answer.substring(3) : answer);
            spec.commandLine().getOut().flush();
            return 0;
        } catch (IOException e) {
            throw new CliException("cannot reach the VM at " + socket + ": " + e.getMessage(), e);
        }
    }
}
