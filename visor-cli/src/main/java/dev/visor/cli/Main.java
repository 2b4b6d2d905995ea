package dev.visor.cli;

import dev.visor.cli.remote.AuditCommand;
import dev.visor.cli.remote.DaemonEnvironment;
import dev.visor.cli.remote.EventsCommand;
import dev.visor.cli.remote.HostCommand;
import dev.visor.cli.remote.StoreCommand;
import dev.visor.cli.remote.TokenCommand;
import dev.visor.cli.remote.VmCommand;
import dev.visor.images.ImageException;
import dev.visor.vmm.VmConfigException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.IFactory;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.reflect.Constructor;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code visor}: the command line. Errors are one line on stderr ({@code visor: <message>}): exit status 1
 * for a VM or image that cannot be had, 2 for a command line that is wrong. {@code --debug} adds the stack
 * trace.
 */
@Command(name = "visor",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = "Visor: virtual machines in Java. Boots Debian's riscv64 kernel with 'visor run'.",
        synopsisSubcommandLabel = "COMMAND",
        subcommands = {RunCommand.class, ImageCommand.class, ControlCommand.class, SwitchCommand.class, DaemonCommand.class,
                VmCommand.class, StoreCommand.class, HostCommand.class, TokenCommand.class, EventsCommand.class,
                AuditCommand.class, CommandLine.HelpCommand.class},
        usageHelpAutoWidth = true)
public final class Main implements Callable<Integer> {
    @Option(names = "--debug", scope = ScopeType.INHERIT, description = "Print stack traces with errors.")
    boolean debug;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        CommandLine cl = spec.commandLine();
        cl.usage(cl.getErr());
        return cl.getCommandSpec().exitCodeOnInvalidInput();
    }

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("run")) {
            // while the options are parsed and files read: a restore or migration's switch-over is timed
            List<String> all = List.of(args);
            boolean incoming = all.stream().anyMatch(a -> a.startsWith("--incoming"));
            dev.visor.vmm.ColdStart.begin(incoming || all.stream().anyMatch(a -> a.startsWith("--restore")), incoming);
            dev.visor.vmm.JitPriority.start(); // the vCPUs before the JIT for a core
        }
        Path exitStatusFile;
        try {
            exitStatusFile = ExitStatusFile.requested(args);
            // a status found there later must be this run's; a bad FILE is refused before the VM runs
            if (exitStatusFile != null) ExitStatusFile.prepare(exitStatusFile);
        } catch (IOException | java.nio.file.InvalidPathException e) {
            System.err.println("visor: " + ExitStatusFile.OPTION + ": " + (e instanceof IOException io ? describe(io) : oneLine(e.getMessage())));
            System.exit(2);
            return;
        }
        int status;
        try {
            status = commandLine(Images.store()).execute(args);
        } catch (Throwable t) { // an Error escaping picocli (OutOfMemoryError, StackOverflowError...)
            System.err.println("visor: internal error: " + oneLine(String.valueOf(t)));
            if (List.of(args).contains("--debug")) t.printStackTrace();
            status = 1;
        }
        System.out.flush();
        if (exitStatusFile != null) {
            try {
                ExitStatusFile.write(exitStatusFile, status);
            } catch (IOException e) {
                System.err.println("visor: " + ExitStatusFile.OPTION + ": " + describe(e));
            }
        }
        System.err.flush();
        System.exit(status);
    }

    /** The whole command tree, with {@code images} as the image store, and visor's error handling. */
    public static CommandLine commandLine(Images images) {
        return commandLine(images, DaemonEnvironment.system());
    }

    /** The same, with {@code env} as what the daemon commands read from the environment. */
    public static CommandLine commandLine(Images images, DaemonEnvironment env) {
        IFactory factory = new IFactory() {
            @Override
            public <K> K create(Class<K> cls) throws Exception {
                for (Constructor<?> c : cls.getDeclaredConstructors()) {
                    if (c.getParameterCount() != 1) continue;
                    Class<?> type = c.getParameterTypes()[0];
                    Object arg = type == Images.class ? images : type == DaemonEnvironment.class ? env : null;
                    if (arg != null) {
                        c.setAccessible(true);
                        return cls.cast(c.newInstance(arg));
                    }
                }
                return CommandLine.defaultFactory().create(cls);
            }
        };
        CommandLine cl = new CommandLine(new Main(), factory);
        cl.setParameterExceptionHandler(PARAMETER_ERRORS);
        cl.setExecutionExceptionHandler(EXECUTION_ERRORS);
        return cl;
    }

    /** A usage error: one line, then where to look, exit status 2. */
    private static final IParameterExceptionHandler PARAMETER_ERRORS = (ex, args) -> {
        CommandLine cl = ex.getCommandLine();
        PrintWriter err = cl.getErr();
        String msg = oneLine(ex.getMessage());
        if (ex instanceof UnmatchedArgumentException u) {
            List<String> unmatched = u.getUnmatched();
            List<String> suggestions = u.getSuggestions();
            if (!cl.getSubcommands().isEmpty() && !unmatched.isEmpty() && !unmatched.getFirst().startsWith("-")) {
                String word = unmatched.getFirst();
                msg = "unknown command '" + word + "'";
                suggestions = cl.getSubcommands().keySet().stream().filter(name -> similar(word, name)).toList();
            }
            if (!suggestions.isEmpty()) {
                msg += " (did you mean " + String.join(" or ", suggestions.stream().map(s -> "'" + s + "'").toList()) + "?)";
            }
        }
        err.println("visor: " + msg);
        if (!(ex instanceof BadValueException)) {
            err.println("try '" + cl.getCommandSpec().qualifiedName() + " --help'");
        }
        if (debug(args)) ex.printStackTrace(err);
        err.flush();
        return cl.getCommandSpec().exitCodeOnInvalidInput();
    };

    /** A failure while running: one line, exit status 1. */
    private static final IExecutionExceptionHandler EXECUTION_ERRORS = (ex, cl, parseResult) -> {
        PrintWriter err = cl.getErr();
        err.println("visor: " + describe(ex));
        if (debug(parseResult)) ex.printStackTrace(err);
        else if (!expected(ex)) err.println("visor: run with --debug for the stack trace");
        err.flush();
        return cl.getCommandSpec().exitCodeOnExecutionException();
    };

    /** The failures visor expects and explains; anything else is a bug. */
    static boolean expected(Throwable ex) {
        return ex instanceof VmConfigException || ex instanceof ImageException
                || ex instanceof CliException || ex instanceof IOException;
    }

    /** One line for a person. */
    static String describe(Throwable ex) {
        if (ex instanceof NoSuchFileException e) return oneLine(e.getFile()) + ": no such file";
        if (ex instanceof AccessDeniedException e) return oneLine(e.getFile()) + ": permission denied";
        if (ex instanceof FileSystemException e && e.getFile() != null) {
            return oneLine(e.getFile()) + ": " + oneLine(e.getReason() != null ? e.getReason() : e.getClass().getSimpleName());
        }
        String msg = ex.getMessage();
        if (expected(ex)) {
            return msg == null || msg.isBlank() ? ex.getClass().getSimpleName() : oneLine(msg);
        }
        return "internal error: " + oneLine(String.valueOf(ex));
    }

    static String oneLine(String s) {
        return s == null ? "" : s.strip().replaceAll("\\s*\\R\\s*", "; ");
    }

    /** A typo of {@code name}: at most two edits (a swap of neighbours counts as one) and not a different word. */
    static boolean similar(String typed, String name) {
        String a = typed.toLowerCase(java.util.Locale.ROOT);
        int n = a.length(), m = name.length();
        int[][] d = new int[n + 1][m + 1];
        for (int i = 0; i <= n; i++) d[i][0] = i;
        for (int j = 0; j <= m; j++) d[0][j] = j;
        for (int i = 1; i <= n; i++) {
            for (int j = 1; j <= m; j++) {
                int cost = a.charAt(i - 1) == name.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == name.charAt(j - 2) && a.charAt(i - 2) == name.charAt(j - 1)) {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        int dist = d[n][m];
        return dist <= 2 && dist < Math.min(n, m);
    }

    static boolean debug(ParseResult pr) {
        for (ParseResult r = pr; r != null; r = r.subcommand()) {
            if (r.hasMatchedOption("--debug")) return true;
        }
        return false;
    }

    private static boolean debug(String[] args) {
        for (String a : args) {
            if (a.equals("--")) break;
            if (a.equals("--debug")) return true;
        }
        return false;
    }

    /** A command line value that is wrong (as opposed to one that is not understood): no usage hint. */
    public static final class BadValueException extends ParameterException {
        public BadValueException(CommandLine cl, String message) { super(cl, message); }
    }
}
