package dev.visor.cli;

import picocli.CommandLine.IVersionProvider;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** {@code visor --version}: the build's version (from the Maven project) and the JVM it runs on. */
public final class VersionProvider implements IVersionProvider {
    /** The project version, or "unknown" when run outside a packaged build. */
    public static String version() {
        try (InputStream in = VersionProvider.class.getResourceAsStream("/visor-version.properties")) {
            if (in != null) {
                Properties p = new Properties();
                p.load(in);
                String v = p.getProperty("version", "");
                if (!v.isBlank() && !v.startsWith("${")) return v;
            }
        } catch (IOException ignored) {
            // fall through
        }
        return "unknown";
    }

    @Override
    public String[] getVersion() {
        return new String[] {
            "visor " + version(),
            "Java " + Runtime.version() + " (" + System.getProperty("java.vendor", "?") + "), "
                    + System.getProperty("os.name") + " " + System.getProperty("os.arch"),
        };
    }
}
