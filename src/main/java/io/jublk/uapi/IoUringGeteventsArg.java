package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * {@code struct io_uring_getevents_arg}: what io_uring_enter takes as its argument with IORING_ENTER_EXT_ARG
 * (kernel 5.11+), in place of a bare signal mask. jublk uses it for {@code ts}, the address of a
 * {@link KernelTimespec} that bounds the wait: io_uring_enter then returns -ETIME when it runs out.
 */
public final class IoUringGeteventsArg {
    private IoUringGeteventsArg() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("sigmask"),
            JAVA_INT.withName("sigmask_sz"),
            JAVA_INT.withName("min_wait_usec"),
            JAVA_LONG.withName("ts")).withName("io_uring_getevents_arg");

    public static final long SIGMASK = Layouts.offset(LAYOUT, "sigmask");
    public static final long TS = Layouts.offset(LAYOUT, "ts");
}
