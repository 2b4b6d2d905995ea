package dev.visor.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * {@code visor run --exit-status-file FILE}: the process's exit status, written to FILE as it
 * exits. A supervisor that restarted cannot wait for a VMM it did not start; it reads this file
 * instead. Written whole or not at all (a temporary file renamed over FILE), so a reader never sees
 * half a number. {@code run} removes an old FILE when it starts, so that a status found there is
 * this run's.
 */
final class ExitStatusFile {
    static final String OPTION = "--exit-status-file";

    private ExitStatusFile() { }

    /**
     * The FILE a {@code run} command line asks for, or null. Read from the arguments themselves,
     * not the parsed options, so that a command line picocli refused still gets its status written.
     */
    static Path requested(String[] args) {
        boolean run = false;
        Path file = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--")) break;
            if (!run) {
                if (a.startsWith("-")) continue; // visor's own options (--debug) come before the command
                if (!a.equals("run")) return null;
                run = true;
            } else if (a.equals(OPTION) && i + 1 < args.length) {
                file = Path.of(args[++i]);
            } else if (a.startsWith(OPTION + "=")) {
                file = Path.of(a.substring(OPTION.length() + 1));
            }
        }
        return file;
    }

    /** Removes an old FILE (a status left by an earlier run); fails when FILE's directory is missing or FILE is a directory. */
    static void prepare(Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        if (!Files.isDirectory(dir)) throw new java.nio.file.FileSystemException(dir.toString(), null, "no such directory");
        if (Files.isDirectory(file)) throw new java.nio.file.FileSystemException(file.toString(), null, "is a directory");
        Files.deleteIfExists(file);
    }

    /** Writes {@code status} and a newline to {@code file}, replacing it in one step. */
    static void write(Path file, int status) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = Files.createTempFile(dir, "." + file.getFileName() + ".", ".tmp");
        try {
            Files.writeString(tmp, status + "\n", StandardCharsets.US_ASCII);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
