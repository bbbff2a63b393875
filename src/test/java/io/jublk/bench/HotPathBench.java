package io.jublk.bench;

import io.jublk.uring.IoUring;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/**
 * What the hot-path JMH benchmarks share (JMH's class annotations are inherited): the time per operation in
 * ns, one fork with native access, state per thread, and a cursor that walks per-tag data round-robin.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public abstract class HotPathBench {
    private int cursor;

    /** 0, 1, … {@code size - 1}, 0, …; {@code size} is a power of two. */
    final int next(int size) {
        int i = cursor;
        cursor = (i + 1) & (size - 1);
        return i;
    }

    /**
     * Opens and closes a throwaway ring. The C library calls that closing needs (munmap, close) are linked on
     * their first use, and linking a downcall allocates about a megabyte; JMH counts a trial's tear-down in
     * the last measured iteration, so without this the benchmark's own tear-down shows up as allocation there.
     */
    static void linkRingTeardown() {
        IoUring.open(2).close();
    }
}
