package dev.visor.cli.remote;

import dev.visor.cli.CliException;
import dev.visor.cli.Main;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code --daemon URL} and {@code --token TOKEN}, shared by the commands that talk to visord.
 * <p>
 * The daemon: {@code --daemon}, else $VISOR_DAEMON, else http://127.0.0.1:7445. The token:
 * {@code --token}, else $VISOR_TOKEN, else the admin.token file in the daemon's state directory
 * ($VISOR_STATE_DIR, else /var/lib/visor for root, else ~/.local/share/visor) when it is readable.
 */
public final class DaemonOptions {
    public static final String DEFAULT_URL = "http://127.0.0.1:7445";
    public static final String TOKEN_FILE = "admin.token";

    @Option(names = "--daemon", paramLabel = "URL",
            description = "The daemon (default: $VISOR_DAEMON, else " + DEFAULT_URL + ").")
    String daemon;

    @Option(names = "--token", paramLabel = "TOKEN",
            description = "The daemon's bearer token (default: $VISOR_TOKEN, else the admin.token file in the daemon's "
                    + "state directory when readable).")
    String token;

    @Spec(Spec.Target.MIXEE)
    CommandSpec mixee;

    private final DaemonEnvironment env;

    public DaemonOptions(DaemonEnvironment env) {
        this.env = env;
    }

    DaemonOptions() {
        this(DaemonEnvironment.system());
    }

    /** A token and where it came from (for messages): "--token", "VISOR_TOKEN" or the file. */
    public record Token(String value, String source) {}

    /** The daemon's base URL, without a trailing slash; "host:port" means http://host:port. */
    public URI url() {
        String given = daemon != null ? daemon.strip() : env.get("VISOR_DAEMON");
        String from = daemon != null ? "--daemon" : "VISOR_DAEMON";
        if (given == null) return URI.create(DEFAULT_URL);
        String u = given.contains("://") ? given : "http://" + given;
        while (u.endsWith("/")) u = u.substring(0, u.length() - 1);
        try {
            URI uri = new URI(u);
            if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null
                    || uri.getRawQuery() != null || uri.getRawFragment() != null) {
                throw new URISyntaxException(given, "not an http:// or https:// URL");
            }
            return uri;
        } catch (URISyntaxException e) {
            throw bad(from + ": '" + given + "' is not a daemon URL (use e.g. " + DEFAULT_URL + ")");
        }
    }

    /** The token to send, or null when there is none. */
    public Token token() {
        if (token != null) return new Token(token.strip(), "--token");
        String t = env.get("VISOR_TOKEN");
        if (t != null) return new Token(t, "VISOR_TOKEN");
        Path file = tokenFile();
        if (Files.isRegularFile(file) && Files.isReadable(file)) {
            try {
                String s = Files.readString(file, StandardCharsets.UTF_8).strip();
                if (!s.isEmpty()) return new Token(s, file.toString());
            } catch (IOException ignored) {
                // unreadable after all: as if there were none
            }
        }
        return null;
    }

    /** The file the token comes from when neither --token nor VISOR_TOKEN gives one. */
    public Path tokenFile() {
        return env.stateDir().resolve(TOKEN_FILE);
    }

    /** A client for the daemon these options name. */
    public DaemonClient client() throws CliException {
        Token t = token();
        if (t != null && !t.value().matches("[\\x21-\\x7e]+")) {
            String message = "the token from " + t.source() + " is not a token (it has spaces or control characters)";
            if (t.source().equals("--token")) throw bad(message);
            throw new CliException(message);
        }
        String hint = "give one with --token or VISOR_TOKEN, or run where " + tokenFile() + " is readable";
        return new DaemonClient(url(), t == null ? null : t.value(), t == null ? null : t.source(), hint);
    }

    private Main.BadValueException bad(String message) {
        return new Main.BadValueException(mixee.commandLine(), message);
    }
}
