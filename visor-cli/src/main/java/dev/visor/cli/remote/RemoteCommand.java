package dev.visor.cli.remote;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.visor.cli.CliException;
import dev.visor.cli.Main;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

/** A command that talks to the daemon: --daemon and --token, the output writers, and JSON helpers. */
abstract class RemoteCommand implements Callable<Integer> {
    @Mixin
    DaemonOptions daemon;

    @Spec
    CommandSpec spec;

    @Override
    public final Integer call() throws CliException {
        try (DaemonClient client = daemon.client()) {
            return run(client);
        }
    }

    abstract int run(DaemonClient client) throws CliException;

    PrintWriter out() {
        return spec.commandLine().getOut();
    }

    PrintWriter err() {
        return spec.commandLine().getErr();
    }

    /** The daemon's JSON, pretty-printed. */
    void printJson(JsonNode node) {
        if (node == null || node.isMissingNode()) return; // an empty answer
        try {
            out().println(DaemonClient.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(node));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e); // a tree the daemon sent always writes
        }
        out().flush();
    }

    void println(String line) {
        out().println(line);
        out().flush();
    }

    static ObjectNode object() {
        return DaemonClient.JSON.createObjectNode();
    }

    static String vmPath(String vm) {
        return DaemonClient.API + "/vms/" + DaemonClient.segment(vm);
    }

    /** A command line value that is wrong: one line, exit status 2. */
    Main.BadValueException bad(String message) {
        return new Main.BadValueException(spec.commandLine(), message);
    }

    /** A command whose answer is printed as a table or as JSON (-o). */
    abstract static class Formatted extends RemoteCommand {
        @Mixin
        OutputFormat output;

        boolean json() {
            return output != null && output.json();
        }
    }

    /** A command group: without a subcommand, its usage. */
    abstract static class Group implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            CommandLine cl = spec.commandLine();
            cl.usage(cl.getErr());
            return cl.getCommandSpec().exitCodeOnInvalidInput();
        }
    }
}
