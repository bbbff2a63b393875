package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/** {@code struct __kernel_timespec} of {@code linux/time_types.h}: 64-bit seconds and nanoseconds on every ABI. */
public final class KernelTimespec {
    private KernelTimespec() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("tv_sec"),
            JAVA_LONG.withName("tv_nsec")).withName("__kernel_timespec");

    public static final long TV_SEC = Layouts.offset(LAYOUT, "tv_sec");
    public static final long TV_NSEC = Layouts.offset(LAYOUT, "tv_nsec");
}
