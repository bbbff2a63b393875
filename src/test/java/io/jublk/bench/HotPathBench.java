package io.jublk.bench;

import io.jublk.uring.IoUring;

/** What the JMH benchmarks share. */
final class BenchSupport {
    private BenchSupport() {}

    /**
     * Opens and closes a throwaway ring. The C library calls that closing needs (munmap, close) are linked on
     * their first use, and linking a downcall allocates about a megabyte; JMH counts a trial's tear-down in
     * the last measured iteration, so without this the benchmark's own tear-down shows up as allocation there.
     */
    static void linkRingTeardown() {
        IoUring.open(2).close();
    }
}
