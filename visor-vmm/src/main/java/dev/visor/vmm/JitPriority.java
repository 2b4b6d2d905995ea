package dev.visor.vmm;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Runs the JVM's JIT compiler threads and the engine's translator threads at a lower scheduling
 * priority than the vCPUs (nice 10 by default; {@code -Dvisor.jit.nice=N}, 0 leaves them alone).
 *
 * <p>Why: the RISC-V engine turns hot guest code into JVM classes that HotSpot's C1 and C2 then
 * compile, and on a small host C2 works through that for minutes (on the 2-core build machine it
 * took 85 % of a core all through a disk-read loop). At equal priority the scheduler shares a core
 * between the compiler and a vCPU, and the guest runs slower in the meantime; at nice 10 a vCPU
 * gets its core whenever it wants one and the compilers take what is left, which on this machine is
 * most of the other core. Measured on that machine (bench: boot, a 256 MiB direct-I/O disk write,
 * then 20 reads of it, two runs each way): the first four reads took 0.557 and 0.575 s a pass at
 * nice 10 against 0.645 and 0.623 s at nice 0, reads 5 to 10 0.60 against 0.72 s; reads 11 to 20,
 * when the JIT has little left to do, 0.546 and 0.512 against 0.499 and 0.507 s. The boot and
 * bench/boot-vs-qemu's guest commands were unchanged within the noise.
 *
 * <p>Linux only (threads found by name in /proc/self/task, priority set with setpriority(2), which
 * any process may do to lower its own threads'); elsewhere this does nothing. Compiler threads
 * HotSpot starts later are found by rescanning every few seconds.
 */
public final class JitPriority {
    private static final int PRIO_PROCESS = 0;
    private static final String[] NAMES = {"C1 CompilerThre", "C2 CompilerThre", "translate-"};

    private JitPriority() {}

    /** Starts lowering the compiler threads' priority in this process (see the class comment). */
    public static void start() {
        int nice = Integer.getInteger("visor.jit.nice", 10);
        Path tasks = Path.of("/proc/self/task");
        if (nice == 0 || !Files.isDirectory(tasks)) return;
        MethodHandle setpriority = setpriority();
        if (setpriority == null) return;
        Thread.ofPlatform().daemon().name("visor-jit-priority").start(() -> {
            Set<Integer> done = new HashSet<>();
            for (long pause = 1000; ; pause = Math.min(pause * 2, 30_000)) {
                lower(tasks, setpriority, nice, done);
                try {
                    Thread.sleep(pause);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
    }

    /** Gives the calling thread the compiler threads' priority (for a translator that starts after the scans). */
    public static void lowerCurrentThread() {
        int nice = Integer.getInteger("visor.jit.nice", 10);
        if (nice == 0 || !Files.isDirectory(Path.of("/proc/self/task"))) return;
        MethodHandle setpriority = setpriority();
        if (setpriority == null) return;
        try {
            int ignored = (int) setpriority.invokeExact(PRIO_PROCESS, 0, nice); // who 0: the calling thread (Linux)
        } catch (Throwable t) {
            // the call failed: the thread keeps its priority
        }
    }

    /** A handle on setpriority(2), or null where there is none. */
    private static MethodHandle setpriority() {
        try {
            Linker linker = Linker.nativeLinker();
            return linker.downcallHandle(linker.defaultLookup().find("setpriority").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** Sets {@code nice} on each compiler or translator thread not in {@code done} yet. */
    private static void lower(Path tasks, MethodHandle setpriority, int nice, Set<Integer> done) {
        try (Stream<Path> all = Files.list(tasks)) {
            for (Path task : (Iterable<Path>) all::iterator) {
                try {
                    int tid = Integer.parseInt(task.getFileName().toString());
                    if (done.contains(tid) || !isCompiler(Files.readString(task.resolve("comm")))) continue;
                    if ((int) setpriority.invokeExact(PRIO_PROCESS, tid, nice) == 0) done.add(tid);
                } catch (NumberFormatException | IOException e) {
                    // not a thread, or one that ended while we looked
                } catch (Throwable t) {
                    return; // the call itself failed: nothing to be done about it
                }
            }
        } catch (IOException e) {
            // /proc went away: try again at the next scan
        }
    }

    static boolean isCompiler(String comm) {
        for (String name : NAMES) if (comm.startsWith(name)) return true;
        return false;
    }
}
