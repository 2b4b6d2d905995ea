package dev.visor.cli;

import dev.visor.vmm.Sizes;
import dev.visor.images.GuestImage;
import dev.visor.images.ImageException;
import dev.visor.images.InitramfsBuilder;
import dev.visor.vmm.ConsoleLog;
import dev.visor.vmm.ConsoleSocket;
import dev.visor.vmm.VirtualMachine;
import dev.visor.vmm.VmConfigException;
import dev.visor.vmm.VmSpec;
import dev.visor.vmm.DiskSpec;
import dev.visor.vmm.NetSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

/** {@code visor run}: one VM in the foreground, its serial console on this terminal (or on stdin/stdout). */
@Command(name = "run",
        mixinStandardHelpOptions = true,
        description = "Boot a VM with its serial console on this terminal. "
                + "Without --kernel: Debian's riscv64 kernel and initramfs with OpenSBI, to a shell.",
        footer = {
            "",
            "Console: Ctrl-A x quits (stops the VM), Ctrl-A h prints help, Ctrl-A Ctrl-A sends Ctrl-A.",
            "When stdin is not a terminal, its bytes are typed into the console as they come (with",
            "the default image: once its shell is up), without escapes; the VM runs until the guest",
            "powers off, e.g.",
            "  printf 'echo $((6*7))\\npoweroff -f\\n' | visor run",
            "The exit status is the VM's: 0 after the guest powers off.",
            "",
            "With --serial-socket the console is on that socket instead (attach with e.g.",
            "'socat -,raw,echo=0,escape=0x1d UNIX:SOCKET', Ctrl-] detaches); stdin is not read and",
            "the VM runs until the guest powers off, 'visor control CTL quit', or the process is killed.",
        },
        usageHelpAutoWidth = true)
final class RunCommand implements java.util.concurrent.Callable<Integer> {
    static final int MAX_CPUS = 64;
    static final long MIN_MEMORY = 16L << 20;
    static final long PAGE = 4096;

    @Option(names = "--cpus", paramLabel = "N", defaultValue = "1",
            description = "Virtual CPUs, 1 to " + MAX_CPUS + " (default: ${DEFAULT-VALUE}).")
    int cpus;

    @Option(names = {"-m", "--memory"}, paramLabel = "SIZE", defaultValue = "512M",
            description = "Guest RAM: 512M, 1G, 1.5G or a number of bytes; at least 16M (default: ${DEFAULT-VALUE}).")
    String memory;

    @Option(names = "--kernel", paramLabel = "FILE",
            description = "Kernel Image, or with --firmware none a bare-metal ELF "
                    + "(default: Debian's riscv64 kernel, pulled into ~/.cache/visor on first use).")
    Path kernel;

    @Option(names = "--initrd", paramLabel = "FILE|none",
            description = "Initramfs (default: Debian's, when the kernel is the default one; else none).")
    String initrd;

    @Option(names = "--firmware", paramLabel = "FILE|none",
            description = "Firmware at the start of RAM (default: OpenSBI fw_jump.bin from the image); "
                    + "'none' runs the kernel as a bare-metal ELF in M-mode.")
    String firmware;

    @Option(names = "--append", paramLabel = "STR",
            description = "Kernel command line (default: '" + VmSpec.DEFAULT_APPEND + "').")
    String append;

    @Option(names = "--disk", paramLabel = "PATH[,format=raw|qcow2][,readonly=on]",
            description = "A virtio disk (repeatable; the first is /dev/vda). The format is detected unless given.")
    java.util.List<String> disks = new java.util.ArrayList<>();

    @Option(names = "--net", paramLabel = "user[,hostfwd=..]|switch:PATH|tap:NAME|none",
            description = "A virtio network card (repeatable; default: one on user-mode NAT). "
                    + "user: NAT with DHCP and DNS, hostfwd=tcp:127.0.0.1:8022-:22 forwards a host port into the guest; "
                    + "switch:PATH joins 'visor switch PATH'; tap:NAME uses a host tap device; add ,mac=52:54:00:.. to fix the MAC.")
    java.util.List<String> nets = new java.util.ArrayList<>();

    @Option(names = "--rng", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "A virtio-rng fed from the host's SecureRandom (default: on).")
    boolean rng;

    @Option(names = "--balloon", description = "A virtio-balloon; set its size with 'visor control SOCKET balloon SIZE'.")
    boolean balloon;

    @Option(names = "--console-port", paramLabel = "FILE",
            description = "A virtio-console port (/dev/hvc0 in the guest) whose output goes to FILE.")
    Path consolePort;

    @Option(names = "--control", paramLabel = "SOCKET",
            description = "A Unix socket for commands to the running VM: 'visor control SOCKET resize vda 2G', ... balloon 256M.")
    Path control;

    @Option(names = "--restore", paramLabel = "DIR",
            description = "Resume the VM saved in snapshot DIR ('visor control SOCKET snapshot DIR') instead of booting: "
                    + "its RAM is mapped copy-on-write, each disk gets a new overlay on the snapshot's image, each NIC a new MAC. "
                    + "--net, --control, --console-port and the --serial-* options may be given; --cpus/--memory must match.")
    Path restore;

    @Option(names = "--overlay-dir", paramLabel = "DIR",
            description = "With --restore: where the new disk overlays go (default: a new DIR-clone-XXXXXX beside the snapshot).")
    Path overlayDir;

    @Option(names = "--keep-mac", description = "With --restore: keep the NICs' saved MACs (a move, not a clone).")
    boolean keepMac;

    @Option(names = "--incoming", paramLabel = "tcp:HOST:PORT",
            description = "Wait for a live migration on HOST:PORT instead of booting ('visor control SOCKET migrate tcp:HOST:PORT' "
                    + "on the source), then run the migrated VM here. Give the source's --cpus, --memory, --disk (same paths: "
                    + "shared storage; or, when the source migrates with copy-storage=on, where each writable disk's copy goes: "
                    + "a file of the same virtual size, or a new one made in format= or the source's format), --net kinds, "
                    + "--rng, --balloon; hostfwd ports must differ from the source's.")
    String incoming;

    @Option(names = "--serial-socket", paramLabel = "SOCKET",
            description = "Serve the serial console on a Unix socket (mode 0600) instead of this terminal: any number of clients, "
                    + "each sees the output from when it connects, what any sends is typed into the console; a client more than "
                    + "1 MiB behind is disconnected. stdin is not read.")
    Path serialSocket;

    @Option(names = "--serial-log", paramLabel = "FILE",
            description = "Append the console output to FILE as well (made mode 0600 if missing); past 16 MiB it becomes FILE.1 "
                    + "(replacing an older one) and a new FILE begins.")
    Path serialLog;

    @Option(names = ExitStatusFile.OPTION, paramLabel = "FILE",
            description = "When visor exits, write its exit status (a number and a newline) to FILE, atomically; "
                    + "an old FILE is removed at the start. For a supervisor that cannot wait for this process.")
    Path exitStatusFile; // handled by Main, which knows the final status; here for parsing and --help

    @Spec
    CommandSpec spec;

    private final Images images;

    /** --serial-socket and --serial-log once opened (null otherwise); closed when the VM has ended. */
    private ConsoleSocket serialServer;
    private ConsoleLog serialLogFile;

    RunCommand(Images images) {
        this.images = images;
    }

    /** Set by {@link #resolve}: the initramfs is the default image's, whose /init prints the ready marker. */
    private boolean defaultInitrd;

    @Override
    public Integer call() throws Exception {
        try {
            if (restore != null && incoming != null) throw bad("--incoming and --restore cannot be combined");
            if (restore != null) return restoreAndRun();
            if (incoming != null) return incomingAndRun();
            if (overlayDir != null || keepMac) throw bad("--overlay-dir and --keep-mac go with --restore");
            return bootAndRun();
        } finally {
            closeConsole();
        }
    }

    private int bootAndRun() throws Exception {
        VmSpec vmSpec = resolve(System.err);
        OutputStream stdout = new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16);
        // Piped input is held back until the default image's shell is up: a guest drops what reaches
        // its serial port before userspace opens it, so `printf 'cmd\n' | visor run` would lose 'cmd'.
        // At a terminal a person types when they see the prompt, as on real hardware; so do socket clients.
        CountDownLatch inputReady = new CountDownLatch(1);
        OutputStream terminal = stdout;
        if (serialSocket == null && !Terminal.interactive() && waitsForShell(vmSpec)) {
            terminal = new MarkerOutputStream(stdout, new MarkerWatch(InitramfsBuilder.READY_MARKER), inputReady::countDown);
        } else {
            inputReady.countDown();
        }
        OutputStream console = openConsole(terminal);
        VirtualMachine vm;
        try {
            vm = VirtualMachine.build(vmSpec, console);
        } catch (OutOfMemoryError e) {
            throw new CliException("not enough host memory for a " + Sizes.exact(vmSpec.memoryBytes()) + " guest", e);
        }
        return run(vm, console, inputReady);
    }

    /**
     * Where the guest's console output goes: the --serial-socket's clients, else {@code terminal}
     * (stdout); and --serial-log besides. Opened before the VM is made, so a bad path is refused
     * before anything boots and clients can attach in time for the first line.
     */
    private OutputStream openConsole(OutputStream terminal) throws CliException {
        OutputStream out = terminal;
        try {
            if (serialSocket != null) out = serialServer = ConsoleSocket.open(serialSocket);
            if (serialLog != null) out = new Tee(serialLogFile = ConsoleLog.open(serialLog), out);
        } catch (IOException e) {
            throw new CliException(e.getMessage(), e);
        }
        return out;
    }

    /** Lets clients take the guest's last output, then removes the socket; closes the log. */
    private void closeConsole() {
        if (serialServer != null) serialServer.close();
        if (serialLogFile != null) {
            try {
                serialLogFile.close();
            } catch (IOException ignored) {
                // what was written is in the file; closing it has nothing left to lose
            }
        }
    }

    /** Runs the VM with its console on the socket, this terminal, or stdin and stdout. */
    private int run(VirtualMachine vm, OutputStream console, CountDownLatch inputReady) throws IOException, InterruptedException {
        if (serialServer != null) return runDetached(vm, console);
        return Terminal.interactive() ? runInteractive(vm, console) : runPiped(vm, console, inputReady);
    }

    /** {@code --restore DIR}: the snapshot's VM, resumed, on this terminal. */
    private int restoreAndRun() throws Exception {
        for (String option : java.util.List.of("--kernel", "--initrd", "--firmware", "--append", "--disk", "--rng", "--balloon")) {
            if (matched(option)) throw bad(option + " cannot be combined with --restore (the snapshot's VM keeps its shape)");
        }
        Long mem = null;
        if (matched("--memory")) {
            try {
                mem = (Sizes.parse(memory) + PAGE - 1) / PAGE * PAGE;
            } catch (IllegalArgumentException e) {
                throw bad("--memory: " + e.getMessage());
            }
        }
        java.util.List<NetSpec> netSpecs = null;
        if (!nets.isEmpty()) {
            netSpecs = new java.util.ArrayList<>();
            try {
                if (!nets.contains("none")) for (String net : nets) netSpecs.add(NetSpec.parse(net));
            } catch (VmConfigException e) {
                throw bad(e.getMessage());
            }
        }
        var options = new dev.visor.vmm.Snapshot.RestoreOptions(overlayDir, netSpecs, keepMac, control, consolePort,
                matched("--cpus") ? cpus : null, mem);
        OutputStream console = openConsole(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16));
        long t0 = System.nanoTime();
        VirtualMachine vm = dev.visor.vmm.Snapshot.restore(restore, options, console);
        System.err.printf("visor: restored %s in %d ms%s%n", restore, (System.nanoTime() - t0) / 1_000_000,
                vm.disks().isEmpty() ? "" : "; disk writes go to " + vm.spec().devices().disks().getFirst().path().getParent());
        CountDownLatch ready = new CountDownLatch(0); // the guest's shell is already up
        return run(vm, console, ready);
    }

    /** {@code --incoming tcp:HOST:PORT}: waits for a source, then runs its VM here. */
    private int incomingAndRun() throws Exception {
        if (overlayDir != null || keepMac) throw bad("--overlay-dir and --keep-mac go with --restore");
        java.net.InetSocketAddress address;
        try {
            address = dev.visor.vmm.migration.MigrationProtocol.parseAddress(incoming);
        } catch (IllegalArgumentException e) {
            throw bad("--incoming: " + e.getMessage());
        }
        VmSpec vmSpec = resolve(System.err);
        OutputStream console = openConsole(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16));
        VirtualMachine vm;
        try (var destination = dev.visor.vmm.migration.MigrationDestination.listen(address)) {
            System.err.println("visor: waiting for a migration on " + incoming + " (port " + destination.port() + ")");
            vm = destination.accept(vmSpec, console, m -> System.err.println("visor: " + m));
        } catch (dev.visor.vmm.migration.MigrationException e) {
            throw new CliException("incoming migration failed: " + e.getMessage(), e);
        }
        CountDownLatch ready = new CountDownLatch(0); // the guest's shell is already up
        return run(vm, console, ready);
    }

    private boolean matched(String option) {
        return spec != null && spec.commandLine().getParseResult().hasMatchedOption(option);
    }

    /** True when the guest runs the default image's /init (which prints the ready marker). */
    boolean waitsForShell(VmSpec vmSpec) {
        return defaultInitrd && (vmSpec.append() == null || !vmSpec.append().contains("rdinit="));
    }

    /** Checks the options and fills in the defaults, pulling the default image when it is needed. */
    VmSpec resolve(PrintStream progress) throws CliException, ImageException {
        if (cpus < 1 || cpus > MAX_CPUS) {
            throw bad("--cpus must be between 1 and " + MAX_CPUS + " (got " + cpus + ")");
        }
        long mem;
        try {
            mem = Sizes.parse(memory);
        } catch (IllegalArgumentException e) {
            throw bad("--memory: " + e.getMessage());
        }
        if (mem < MIN_MEMORY) {
            String hint = mem < (1L << 20) && memory.strip().matches("\\d+") ? " (did you mean " + memory.strip() + "M?)" : "";
            throw bad("--memory " + memory.strip() + " is too small: a VM needs at least 16M" + hint);
        }
        if (mem > Long.MAX_VALUE - PAGE) throw bad("--memory " + memory.strip() + " is too large");
        mem = (mem + PAGE - 1) / PAGE * PAGE;

        Path userKernel = kernel == null ? null : existing("--kernel", kernel);
        Path userInitrd = isNone(initrd) || initrd == null ? null : existing("--initrd", Path.of(initrd));
        Path userFirmware = isNone(firmware) || firmware == null ? null : existing("--firmware", Path.of(firmware));

        VmSpec.Devices devices = devices(); // checked before any image is pulled

        GuestImage image = null;
        if (userKernel == null || firmware == null) image = images.defaultImage(progress);

        Path k = userKernel != null ? userKernel : image.kernel();
        Path i;
        if (initrd != null) i = userInitrd; // a file, or null for "none"
        else i = userKernel == null ? image.initrd() : null;
        defaultInitrd = i != null && image != null && i.equals(image.initrd());
        Path f;
        if (firmware != null) f = userFirmware; // a file, or null for "none"
        else f = image.firmware();
        String a = append != null ? append : VmSpec.DEFAULT_APPEND;
        return new VmSpec(cpus, mem, k, i, f, a, devices);
    }

    /** The virtio devices the options ask for, checked before anything is opened. */
    private VmSpec.Devices devices() throws CliException {
        java.util.List<DiskSpec> d = new java.util.ArrayList<>();
        java.util.List<NetSpec> n = new java.util.ArrayList<>();
        try {
            for (String disk : disks) {
                DiskSpec ds = DiskSpec.parse(disk);
                // --incoming: a storage migration creates the disk; without one the destination checks it exists
                if (incoming == null) existing("--disk", ds.path());
                d.add(ds);
            }
            boolean none = nets.contains("none");
            if (none && nets.size() > 1) throw bad("--net none cannot be combined with other --net options");
            if (nets.isEmpty()) n.add(NetSpec.parse("user"));
            else if (!none) for (String net : nets) n.add(NetSpec.parse(net));
        } catch (VmConfigException e) {
            throw bad(e.getMessage());
        }
        return new VmSpec.Devices(d, n, rng, balloon, consolePort, control);
    }

    private int runInteractive(VirtualMachine vm, OutputStream console) throws IOException, InterruptedException {
        AtomicBoolean quit = new AtomicBoolean();
        ConsoleEscape escape = new ConsoleEscape();
        PrintStream err = System.err;
        ConsoleEscape.Listener listener = new ConsoleEscape.Listener() {
            @Override
            public void forward(byte[] data, int off, int len) {
                vm.consoleInput(data, off, len);
            }

            @Override
            public void action(ConsoleEscape.Action action) {
                switch (action) {
                    case HELP -> {
                        err.print("\r\n" + ConsoleEscape.HELP);
                        err.flush();
                    }
                    case QUIT -> {
                        quit.set(true);
                        vm.stop();
                    }
                }
            }
        };
        int status;
        try (Terminal ignored = Terminal.raw()) {
            vm.start();
            startInput((buf, n) -> escape.feed(buf, 0, n, listener), escape::quitRequested, null);
            status = vm.awaitExit();
            flush(console);
        }
        reportFailure(vm);
        if (quit.get()) {
            err.println();
            err.println("visor: terminated");
            return 0;
        }
        return status;
    }

    private int runPiped(VirtualMachine vm, OutputStream console, CountDownLatch inputReady) throws InterruptedException {
        vm.start();
        startInput((buf, n) -> vm.consoleInput(buf, 0, n), () -> false, inputReady);
        int status = vm.awaitExit();
        flush(console);
        reportFailure(vm);
        return status;
    }

    /**
     * --serial-socket: the console is the socket's clients'; this process only waits for the VM to end
     * (a guest poweroff, 'quit' on the control socket, a kill).
     */
    private int runDetached(VirtualMachine vm, OutputStream console) throws InterruptedException {
        serialServer.attach(vm::consoleInput);
        vm.start();
        int status = vm.awaitExit();
        flush(console);
        reportFailure(vm);
        return status;
    }

    /** The VMM's own failure (its status is then {@link VirtualMachine#EXIT_INTERNAL_ERROR}), as one line. */
    private static void reportFailure(VirtualMachine vm) {
        String failure = vm.failure();
        if (failure != null) System.err.println("visor: " + Main.oneLine(failure));
    }

    private interface Chunk { void accept(byte[] buf, int n); }

    /**
     * Reads stdin on a daemon thread, once {@code ready} (if not null) opens, until EOF (then does
     * nothing more: the guest runs on) or {@code done}.
     */
    private void startInput(Chunk sink, java.util.function.BooleanSupplier done, CountDownLatch ready) {
        boolean debug = spec != null && Main.debug(spec.root().commandLine().getParseResult());
        Thread.ofPlatform().daemon().name("visor-stdin").start(() -> {
            InputStream in = new FileInputStream(FileDescriptor.in);
            byte[] buf = new byte[4096];
            try {
                if (ready != null) ready.await();
                int n;
                while (!done.getAsBoolean() && (n = in.read(buf)) > 0) sink.accept(buf, n);
            } catch (IOException e) {
                if (debug) System.err.println("visor: stdin: " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    /** Passes console output through, and runs {@code onMarker} once the marker has gone by. */
    static final class MarkerOutputStream extends FilterOutputStream {
        private final MarkerWatch watch;
        private final Runnable onMarker;

        MarkerOutputStream(OutputStream out, MarkerWatch watch, Runnable onMarker) {
            super(out);
            this.watch = watch;
            this.onMarker = onMarker;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            if (!watch.found() && watch.feed(b, off, len)) onMarker.run();
        }
    }

    /** Console output to the log and on to the terminal or socket. The log never throws, so it goes first. */
    static final class Tee extends OutputStream {
        private final OutputStream log;
        private final OutputStream out;

        Tee(OutputStream log, OutputStream out) {
            this.log = log;
            this.out = out;
        }

        @Override
        public void write(int b) throws IOException {
            log.write(b);
            out.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            log.write(b, off, len);
            out.write(b, off, len);
        }

        @Override
        public void flush() throws IOException {
            log.flush();
            out.flush();
        }
    }

    private static void flush(OutputStream console) {
        try {
            console.flush();
        } catch (IOException ignored) {
            // stdout is gone (closed pipe): nothing left to tell
        }
    }

    private static boolean isNone(String s) {
        return "none".equals(s);
    }

    private Main.BadValueException bad(String message) {
        return new Main.BadValueException(spec.commandLine(), message);
    }

    /** A file the user named: it must be there and readable, checked before any image is pulled. */
    private static Path existing(String option, Path p) throws CliException {
        if (!Files.exists(p)) throw new CliException(option + " " + p + ": no such file");
        if (Files.isDirectory(p)) throw new CliException(option + " " + p + ": is a directory");
        if (!Files.isReadable(p)) throw new CliException(option + " " + p + ": permission denied");
        return p;
    }
}
