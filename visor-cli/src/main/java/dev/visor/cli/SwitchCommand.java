package dev.visor.cli;

import dev.visor.net.l2.SwitchServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code visor switch PATH}: a learning Ethernet switch that VMs join with {@code --net switch:PATH}. */
@Command(name = "switch", mixinStandardHelpOptions = true,
        description = "Run a virtual Ethernet switch on a Unix socket; VMs join it with --net switch:PATH "
                + "and reach each other (runs until interrupted).",
        usageHelpAutoWidth = true)
final class SwitchCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "PATH", description = "The switch's Unix socket.")
    Path path;

    @Override
    public Integer call() throws CliException, InterruptedException {
        SwitchServer server;
        try {
            server = SwitchServer.start(path);
        } catch (IOException e) {
            throw new CliException("switch " + path + ": " + e.getMessage(), e);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(server::close));
        System.err.println("visor: switch listening on " + path + " (Ctrl-C stops it)");
        server.join();
        return 0;
    }
}
