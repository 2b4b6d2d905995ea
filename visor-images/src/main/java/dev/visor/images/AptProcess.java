package dev.visor.images;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/** Runs one apt command and collects its output; the caller decides what counts as failure. */
final class AptProcess {
    /** What an apt command printed (stdout and stderr merged, in order) and how it exited. */
    record Result(int exitCode, List<String> lines) {
        /** The first line apt marks as an error or failed fetch, for a one-line message. */
        String firstError() {
            for (int i = 0; i < lines.size(); i++) {
                String line = lines.get(i);
                // "Err:1 <uri> ..." is followed by an indented line giving the reason.
                if (line.startsWith("Err:") && i + 1 < lines.size() && lines.get(i + 1).startsWith(" ")) {
                    return lines.get(i + 1).strip();
                }
                if (line.startsWith("E: ")) return line.substring(3).strip();
            }
            for (String line : lines) {
                if (line.startsWith("W: ")) return line.substring(3).strip();
            }
            return lines.isEmpty() ? "exit status " + exitCode : lines.getLast().strip();
        }
    }

    private AptProcess() {}

    /**
     * Runs {@code command} in {@code workingDirectory}, handing each output line to {@code echo}
     * as it arrives (for progress) and keeping all lines for the result.
     */
    static Result run(List<String> command, Path workingDirectory, Consumer<String> echo) throws ImageException {
        ProcessBuilder builder = new ProcessBuilder(command)
                .directory(workingDirectory.toFile())
                .redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        // apt's messages are parsed (Err:, E:), so they must not be translated.
        builder.environment().put("LC_ALL", "C");
        builder.environment().remove("LANGUAGE");
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new ImageException("cannot run " + command.getFirst() + " (" + e.getMessage() + "); Visor fetches"
                    + " Debian's riscv64 guest packages through the host's apt: run it on a Debian or Ubuntu host"
                    + " with apt installed");
        }
        List<String> lines = new ArrayList<>();
        try (BufferedReader reader = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                lines.add(line);
                echo.accept(line);
            }
            return new Result(process.waitFor(), lines);
        } catch (IOException e) {
            process.destroy();
            throw new ImageException("lost the output of " + command.getFirst() + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            process.destroy();
            Thread.currentThread().interrupt();
            throw new ImageException("interrupted while running " + command.getFirst(), e);
        }
    }

    /** Echoes lines to {@code out} with an indent, so apt's output reads as part of Visor's progress. */
    static Consumer<String> indented(PrintStream out) {
        return line -> out.println("  " + line);
    }

    /** Discards lines (output is still collected in the result). */
    static Consumer<String> quiet() {
        return line -> {};
    }
}
