package dev.visor.cli.remote;

import picocli.CommandLine.Option;

/** {@code -o table|json}: aligned columns for people, or the daemon's JSON (pretty-printed) for programs. */
public final class OutputFormat {
    public enum Format { table, json }

    @Option(names = {"-o", "--output"}, paramLabel = "table|json", defaultValue = "table",
            description = "Output format: table (default) or json (the daemon's answer).")
    Format format = Format.table;

    public boolean json() {
        return format == Format.json;
    }
}
