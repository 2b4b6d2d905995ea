package dev.visor.vmm;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** JitPriority on this JVM's own threads: the compilers end up at nice 10, other threads stay where they were. */
class JitPriorityTest {

    @Test
    void namesTheCompilerAndTranslatorThreadsOnly() {
        assertTrue(JitPriority.isCompiler("C2 CompilerThre\n"));
        assertTrue(JitPriority.isCompiler("C1 CompilerThre\n"));
        assertTrue(JitPriority.isCompiler("translate-3\n"));
        assertFalse(JitPriority.isCompiler("vcpu-0\n"));
        assertFalse(JitPriority.isCompiler("main\n"));
    }

    @Test
    void lowersTheCompilerThreadsAndNothingElse() throws Exception {
        Path tasks = Path.of("/proc/self/task");
        assumeTrue(Files.isDirectory(tasks), "Linux only");
        long ownTid = Long.parseLong(Path.of("/proc/thread-self").toRealPath().getFileName().toString());
        int ownNice = nice(ownTid);
        JitPriority.start();
        List<Long> compilers = tidNamed("C2 CompilerThre");
        compilers.addAll(tidNamed("C1 CompilerThre"));
        assertFalse(compilers.isEmpty(), "no compiler threads found in " + tasks);
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline && !compilers.stream().allMatch(t -> nice(t) == 10)) Thread.sleep(50);
        for (long tid : compilers) assertEquals(10, nice(tid), "nice of compiler thread " + tid);
        assertEquals(ownNice, nice(ownTid), "the test thread's nice changed");
    }

    private static List<Long> tidNamed(String prefix) throws Exception {
        List<Long> found = new ArrayList<>();
        try (Stream<Path> all = Files.list(Path.of("/proc/self/task"))) {
            for (Path task : (Iterable<Path>) all::iterator) {
                if (Files.readString(task.resolve("comm")).startsWith(prefix)) found.add(Long.parseLong(task.getFileName().toString()));
            }
        }
        return found;
    }

    /** Field 19 of /proc/self/task/TID/stat (after the parenthesised name, which may hold spaces). */
    private static int nice(long tid) {
        try {
            String stat = Files.readString(Path.of("/proc/self/task/" + tid + "/stat"));
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Integer.parseInt(fields[16]); // fields[0] is field 3 (state)
        } catch (Exception e) {
            throw new AssertionError("cannot read the nice value of thread " + tid, e);
        }
    }
}
