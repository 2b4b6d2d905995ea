package dev.visor.devices.virtio.balloon;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * How many pages of a mapping are resident in host RAM, from mincore(2): exact for one range,
 * unlike the process-wide RSS that the JVM's own allocations disturb.
 */
final class Resident {
    private static final MethodHandle MINCORE = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("mincore").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));

    private Resident() {}

    /** Resident 4 KiB pages of {@code range}, whose address must be page-aligned. */
    static int pages(MemorySegment range) {
        int n = (int) ((range.byteSize() + 4095) / 4096);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment vec = arena.allocate(n);
            int rc = (int) MINCORE.invokeExact(range, range.byteSize(), vec);
            if (rc != 0) throw new IllegalStateException("mincore failed");
            int resident = 0;
            for (int i = 0; i < n; i++) resident += vec.get(ValueLayout.JAVA_BYTE, i) & 1;
            return resident;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
