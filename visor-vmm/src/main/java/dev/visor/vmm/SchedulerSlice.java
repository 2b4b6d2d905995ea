package dev.visor.vmm;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Asks Linux for a short time slice for the calling thread, so that it runs soon after it wakes even
 * when every core is busy.
 *
 * <p>Why: since Linux 6.6 the fair scheduler is EEVDF, which lets a running thread finish its slice
 * (about 3 ms on a 2-core host) before a thread of equal priority that just woke takes the core. A
 * live migration's switch-over is a ping-pong of small messages between the source's migration
 * thread and the destination's (READY, GO, RESUMED) while the two VMMs' JIT compilers and the
 * destination's newly resumed vCPU want the same cores: on the 2-core build machine
 * {@code perf sched timehist} showed the woken thread waiting 3 to 6 ms for a core, several times per
 * switch-over, all of it downtime. Linux 6.12 added a per-thread slice for normal threads
 * ({@code sched_setattr} with {@code sched_runtime}, no privilege needed): a thread with a short slice
 * gets an early deadline and preempts the running one when it wakes.
 *
 * <p>Best effort: on other systems, older kernels (which ignore the field) or other CPUs this does
 * nothing and says so by returning false.
 */
public final class SchedulerSlice {
    /** The slice a latency-critical thread asks for: the least Linux accepts. */
    public static final long SHORT_NANOS = 100_000;

    private static final int PRIO_PROCESS = 0;
    /** sizeof(struct sched_attr), first version: size, policy, flags, nice, priority, runtime, deadline, period. */
    private static final int ATTR_SIZE = 48;
    private static final long SYS_SCHED_SETATTR = switch (System.getProperty("os.arch")) {
        case "amd64", "x86_64" -> 314;
        case "aarch64" -> 274;
        default -> -1;
    };
    private static final MethodHandle GETTID, GETPRIORITY, SYSCALL;

    static {
        MethodHandle gettid = null, getpriority = null, syscall = null;
        if (SYS_SCHED_SETATTR > 0 && System.getProperty("os.name").equals("Linux")) {
            try {
                Linker linker = Linker.nativeLinker();
                var lib = linker.defaultLookup();
                gettid = linker.downcallHandle(lib.find("gettid").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT));
                getpriority = linker.downcallHandle(lib.find("getpriority").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
                syscall = linker.downcallHandle(lib.find("syscall").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                                ValueLayout.JAVA_LONG, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG),
                        Linker.Option.firstVariadicArg(1));
            } catch (RuntimeException e) {
                gettid = getpriority = syscall = null; // not a glibc we can call: stay out of the way
            }
        }
        GETTID = gettid;
        GETPRIORITY = getpriority;
        SYSCALL = syscall;
    }

    private SchedulerSlice() {}

    /**
     * Sets the calling platform thread's slice to {@code nanos} (0: the system's default again),
     * keeping its nice value. True when the kernel took it.
     */
    public static boolean setForCurrentThread(long nanos) {
        if (SYSCALL == null || Thread.currentThread().isVirtual()) return false; // a virtual thread moves between carriers
        try (Arena arena = Arena.ofConfined()) {
            int tid = (int) GETTID.invokeExact();
            int nice = (int) GETPRIORITY.invokeExact(PRIO_PROCESS, tid); // sched_setattr sets the nice value too
            MemorySegment attr = arena.allocate(ATTR_SIZE, 8);
            attr.set(ValueLayout.JAVA_INT, 0, ATTR_SIZE);
            attr.set(ValueLayout.JAVA_INT, 4, 0);           // SCHED_OTHER
            attr.set(ValueLayout.JAVA_LONG, 8, 0L);         // no flags
            attr.set(ValueLayout.JAVA_INT, 16, nice);
            attr.set(ValueLayout.JAVA_INT, 20, 0);          // static priority: 0 for SCHED_OTHER
            attr.set(ValueLayout.JAVA_LONG, 24, nanos);     // sched_runtime: the slice for a fair thread
            return (long) SYSCALL.invokeExact(SYS_SCHED_SETATTR, (long) tid, attr, 0L) == 0;
        } catch (Throwable t) {
            return false;
        }
    }

    /** The calling thread's slice in nanoseconds as /proc reports it, or -1 where it cannot be read (for tests). */
    static long currentSliceNanos() {
        if (GETTID == null) return -1;
        try {
            int tid = (int) GETTID.invokeExact();
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/task/" + tid + "/sched"))) {
                if (line.startsWith("se.slice")) return Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
            }
        } catch (Throwable t) {
            // no such file here
        }
        return -1;
    }
}
