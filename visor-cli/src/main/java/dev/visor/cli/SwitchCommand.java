package dev.visor.cli;

import dev.visor.net.l2.SwitchPort;
import dev.visor.net.l2.SwitchServer;
import dev.visor.net.user.DhcpService;
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

    @picocli.CommandLine.Option(names = "--dhcp", paramLabel = "NETWORK|none", defaultValue = "10.0.3.0/24",
            description = "Lease addresses of NETWORK to the VMs that join (server .1, VMs from .10), "
                    + "or 'none' (default: ${DEFAULT-VALUE}).")
    String dhcp;

    @Override
    public Integer call() throws CliException, InterruptedException {
        SwitchServer server;
        try {
            server = SwitchServer.start(path);
        } catch (IOException e) {
            throw new CliException("switch " + path + ": " + e.getMessage(), e);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(server::close));
        if (!dhcp.equals("none")) {
            try {
                DhcpService.start(SwitchPort.connect(path), dhcp);
            } catch (IOException | IllegalArgumentException e) {
                server.close();
                throw new CliException("switch " + path + ": --dhcp " + dhcp + ": " + e.getMessage(), e);
            }
        }
        System.err.println("visor: switch listening on " + path + (dhcp.equals("none") ? "" : ", DHCP for " + dhcp)
                + " (Ctrl-C stops it)");
        server.join();
        return 0;
    }
}
