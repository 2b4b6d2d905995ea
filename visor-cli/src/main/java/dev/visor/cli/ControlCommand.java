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
            "  balloon [SIZE]       show the balloon, or set the guest's memory to SIZE by inflating it"},
        usageHelpAutoWidth = true)
final class ControlCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "SOCKET", description = "The VM's control socket.")
    Path socket;

    @Parameters(index = "1..*", paramLabel = "COMMAND", arity = "1..*", description = "The command and its arguments.")
    List<String> command;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws CliException {
        if (!Files.exists(socket)) throw new CliException("no VM control socket at " + socket + " (start the VM with --control " + socket + ")");
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ch.write(StandardCharsets.UTF_8.encode(String.join(" ", command) + "\n"));
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
