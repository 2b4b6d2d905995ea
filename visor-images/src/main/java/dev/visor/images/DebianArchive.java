package dev.visor.images;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Fetches Debian trixie riscv64 packages through the host's apt, with a private configuration so
 * the host's own package state (sources, lists, cache, dpkg status, locks) is never read for
 * packages or written.
 *
 * <p>All apt state lives in {@code stateDirectory}: a one-line {@code sources.list}
 * ({@code deb [arch=riscv64] <mirror> trixie main}), an empty dpkg status, the package lists and
 * apt's cache (and so its lock files). The mirror is the Debian archive the host's apt already
 * uses ({@link #hostMirror()}), so no host name is written into Visor. The host's
 * debian-archive-keyring verifies trixie's signatures, and the host's {@code apt.conf.d} still
 * applies (proxies, for instance). Works as root and as an ordinary user; nothing needs root.
 *
 * <pre>
 *   var archive = DebianArchive.usingHostMirror(stateDir, System.err);  // ImageException if apt is missing
 *   archive.update();                                                   // ImageException if unreachable
 *   String image = archive.firstDependency("linux-image-riscv64");      // linux-image-6.12.x+deb13-riscv64
 *   Map&lt;String, Path&gt; debs = archive.download(dir, List.of(image, "busybox-static", "opensbi"));
 * </pre>
 */
public final class DebianArchive {
    /** The Debian release the guest comes from: the first with riscv64 as an official architecture. */
    public static final String SUITE = "trixie";
    /** The guest architecture. */
    public static final String ARCHITECTURE = "riscv64";

    private final Path state;
    private final URI mirror;
    private final PrintStream progress;

    /**
     * Prepares a private apt configuration in {@code stateDirectory} (created if missing) for
     * {@code mirror}, a Debian archive URI such as the one {@link #hostMirror()} returns.
     * apt's output and download progress go to {@code progress}.
     */
    public DebianArchive(Path stateDirectory, URI mirror, PrintStream progress) throws ImageException {
        this.state = stateDirectory.toAbsolutePath();
        this.mirror = mirror;
        this.progress = progress;
        try {
            // apt creates "partial" below these itself only when not running as root; make them always.
            Files.createDirectories(state.resolve("lists/partial"));
            Files.createDirectories(state.resolve("cache/archives/partial"));
            Files.writeString(state.resolve("sources.list"),
                    "deb [arch=" + ARCHITECTURE + "] " + mirror + " " + SUITE + " main\n");
            // An empty dpkg status: the host's installed (amd64) packages mean nothing for riscv64.
            Files.write(state.resolve("status"), new byte[0]);
        } catch (IOException e) {
            throw new ImageException("cannot prepare apt state in " + state + ": " + e.getMessage(), e);
        }
    }

    /** As the constructor, with the Debian archive the host's apt uses ({@link #hostMirror()}). */
    public static DebianArchive usingHostMirror(Path stateDirectory, PrintStream progress) throws ImageException {
        return new DebianArchive(stateDirectory, hostMirror(), progress);
    }

    /**
     * The URI of a Debian main archive mirror from the host's apt configuration, as listed by
     * {@code apt-get indextargets}: the repository of a plain release (like {@code bookworm}, not
     * {@code bookworm-security} or {@code -updates}) whose label is "Debian" or whose path ends in
     * {@code /debian/}.
     */
    public static URI hostMirror() throws ImageException {
        var result = AptProcess.run(
                List.of("apt-get", "indextargets", "--format", "$(REPO_URI) $(RELEASE) $(LABEL)"),
                Path.of("."), AptProcess.quiet());
        if (result.exitCode() != 0) {
            throw new ImageException("cannot read the host's apt sources (apt-get indextargets: "
                    + result.firstError() + "); check the apt configuration");
        }
        return chooseMirror(result.lines()).orElseThrow(() -> new ImageException(
                "the host's apt has no Debian archive among its sources (apt-get indextargets lists none);"
                        + " set VISOR_DEBIAN_MIRROR to a Debian mirror URI, e.g. the one in a Debian host's sources"));
    }

    /** Picks the mirror from {@code indextargets} lines of the form "URI RELEASE [LABEL]". */
    static Optional<URI> chooseMirror(List<String> lines) {
        URI byPath = null;
        for (String line : lines) {
            String[] f = line.strip().split("\\s+");
            if (f.length < 2) continue;
            String uri = f[0];
            String release = f[1];
            String label = f.length > 2 ? f[2] : "";
            // Suites with a dash are the security, updates and backports overlays, not the archive.
            if (!(uri.startsWith("http://") || uri.startsWith("https://")) || release.contains("-")) continue;
            if (uri.contains("security")) continue;
            URI parsed;
            try {
                parsed = new URI(uri.endsWith("/") ? uri : uri + "/");
            } catch (URISyntaxException e) {
                continue;
            }
            if (label.equals("Debian")) return Optional.of(parsed);
            // The label is empty when the host never downloaded that list; fall back to the path.
            if (byPath == null && label.isEmpty() && parsed.getPath().endsWith("/debian/")) byPath = parsed;
        }
        return Optional.ofNullable(byPath);
    }

    /** The mirror this archive fetches from. */
    public URI mirror() {
        return mirror;
    }

    /** Downloads the trixie riscv64 package lists ({@code apt-get update}) into the private state. */
    public void update() throws ImageException {
        progress.println("visor: reading the Debian " + SUITE + " " + ARCHITECTURE + " package list from " + mirror);
        var result = AptProcess.run(apt("apt-get", "update"), state, AptProcess.indented(progress));
        // apt-get update exits 0 even when every fetch failed ("W: Failed to fetch"), so the proof
        // of success is the package list on disk.
        if (result.exitCode() != 0 || !hasPackageList()) {
            throw new ImageException("cannot reach the Debian archive through apt (apt-get update failed: "
                    + result.firstError() + "); check network/apt configuration");
        }
    }

    /**
     * The control fields of the version apt would pick of {@code pkg} ({@code apt-cache show}),
     * e.g. {@code Version}, {@code Depends}, {@code Size}. Needs {@link #update()} first.
     */
    public Map<String, String> show(String pkg) throws ImageException {
        var result = AptProcess.run(apt("apt-cache", "show", "--no-all-versions", pkg), state, AptProcess.quiet());
        Map<String, String> fields = DebPackage.parseFields(String.join("\n", result.lines()));
        if (result.exitCode() != 0 || !pkg.equals(fields.get("Package"))) {
            throw new ImageException("the Debian archive has no " + SUITE + " " + ARCHITECTURE + " package " + pkg
                    + " (apt-cache: " + result.firstError() + "); check the mirror " + mirror);
        }
        return fields;
    }

    /**
     * The package the first {@code Depends:} entry of {@code pkg} names: for a metapackage such
     * as {@code linux-image-riscv64}, the real package ({@code linux-image-<version>-riscv64}).
     */
    public String firstDependency(String pkg) throws ImageException {
        String depends = show(pkg).get("Depends");
        if (depends == null || depends.isBlank()) throw new ImageException("package " + pkg + " depends on nothing");
        return dependencyName(depends);
    }

    /** "a (= 1) | b, c" gives "a": first entry, first alternative, without version or arch qualifier. */
    static String dependencyName(String depends) {
        String first = depends.split(",")[0].split("\\|")[0].strip();
        first = first.split("[\\s(]")[0];
        int colon = first.indexOf(':');
        return colon >= 0 ? first.substring(0, colon) : first;
    }

    /**
     * Downloads {@code packages} ({@code apt-get download}) into {@code directory}, showing apt's
     * per-package lines and a percentage on the progress stream. Returns each package's
     * {@code .deb} by package name.
     */
    public Map<String, Path> download(Path directory, List<String> packages) throws ImageException {
        Path dir = directory.toAbsolutePath();
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new ImageException("cannot create " + dir + ": " + e.getMessage(), e);
        }
        progress.println("visor: downloading " + String.join(", ", packages));
        List<String> command = apt("apt-get", "download");
        // Status-Fd=1 adds machine-readable "dlstatus:<n>:<percent>:<text>" lines to the output.
        command.addAll(1, List.of("-o", "APT::Status-Fd=1"));
        command.addAll(packages);
        var result = AptProcess.run(command, dir, new DownloadProgress(progress));
        if (result.exitCode() != 0) {
            throw new ImageException("apt-get download failed: " + result.firstError()
                    + "; check network/apt configuration");
        }
        Map<String, Path> debs = new LinkedHashMap<>();
        for (String pkg : packages) {
            debs.put(pkg, downloaded(dir, pkg).orElseThrow(() -> new ImageException(
                    "apt-get download reported success but left no .deb for " + pkg + " in " + dir)));
        }
        return debs;
    }

    /** apt-get names files {@code <package>_<version>_<arch>.deb}, with the version's ':' as %3a. */
    private static Optional<Path> downloaded(Path dir, String pkg) throws ImageException {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, pkg + "_*.deb")) {
            for (Path file : files) return Optional.of(file);
            return Optional.empty();
        } catch (IOException e) {
            throw new ImageException("cannot list " + dir + ": " + e.getMessage(), e);
        }
    }

    private boolean hasPackageList() {
        try (DirectoryStream<Path> lists = Files.newDirectoryStream(state.resolve("lists"),
                "*_binary-" + ARCHITECTURE + "_Packages*")) {
            return lists.iterator().hasNext();
        } catch (IOException e) {
            return false;
        }
    }

    /** An apt command with the private configuration. */
    private List<String> apt(String program, String... arguments) {
        List<String> command = new ArrayList<>();
        command.add(program);
        option(command, "Dir::Etc::SourceList", state.resolve("sources.list"));
        option(command, "Dir::Etc::SourceParts", "/dev/null");
        // The host's pinning is about the host's releases; it has no say over the guest's.
        option(command, "Dir::Etc::Preferences", "/dev/null");
        option(command, "Dir::Etc::PreferencesParts", "/dev/null");
        option(command, "Dir::State::Lists", state.resolve("lists"));
        option(command, "Dir::State::status", state.resolve("status"));
        option(command, "Dir::Cache", state.resolve("cache"));
        option(command, "APT::Architecture", ARCHITECTURE);
        option(command, "APT::Architectures", ARCHITECTURE);
        option(command, "Acquire::Languages", "none");
        // As root, apt downloads as the "_apt" user, which cannot write into a private directory
        // below root's home; apt would fall back with a warning. Say so up front. Without root
        // apt cannot switch users anyway and ignores this.
        option(command, "APT::Sandbox::User", "root");
        command.addAll(List.of(arguments));
        return command;
    }

    private static void option(List<String> command, String name, Object value) {
        command.add("-o");
        command.add(name + "=" + value);
    }

    /** Turns apt's output into progress lines: "Get:" lines as they are, dlstatus as a percentage every 10%. */
    private static final class DownloadProgress implements Consumer<String> {
        private final PrintStream out;
        private int shownTenths = 0;

        DownloadProgress(PrintStream out) {
            this.out = out;
        }

        @Override
        public void accept(String line) {
            if (line.startsWith("dlstatus:")) {
                String[] f = line.split(":", 4);
                if (f.length < 3) return;
                try {
                    int tenths = (int) (Double.parseDouble(f[2]) / 10);
                    if (tenths > shownTenths) {
                        shownTenths = tenths;
                        out.println("  downloaded " + tenths * 10 + "%");
                    }
                } catch (NumberFormatException ignored) {
                    // a status line of another shape: not worth failing a download over
                }
            } else if (!line.isBlank()) {
                out.println("  " + line);
            }
        }
    }
}
