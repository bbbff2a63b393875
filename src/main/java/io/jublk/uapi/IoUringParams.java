package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/** {@code struct io_uring_params}: io_uring_setup's in/out argument. */
public final class IoUringParams {
    private IoUringParams() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("sq_entries"),
            JAVA_INT.withName("cq_entries"),
            JAVA_INT.withName("flags"),
            JAVA_INT.withName("sq_thread_cpu"),
            JAVA_INT.withName("sq_thread_idle"),
            JAVA_INT.withName("features"),
            JAVA_INT.withName("wq_fd"),
            MemoryLayout.sequenceLayout(3, JAVA_INT).withName("resv"),
            IoSqringOffsets.LAYOUT.withName("sq_off"),
            IoCqringOffsets.LAYOUT.withName("cq_off")).withName("io_uring_params");

    public static final long SIZE = LAYOUT.byteSize();
    public static final long SQ_ENTRIES = Layouts.offset(LAYOUT, "sq_entries");
    public static final long CQ_ENTRIES = Layouts.offset(LAYOUT, "cq_entries");
    public static final long FLAGS = Layouts.offset(LAYOUT, "flags");
    public static final long FEATURES = Layouts.offset(LAYOUT, "features");
    public static final long SQ_OFF = Layouts.offset(LAYOUT, "sq_off");
    public static final long CQ_OFF = Layouts.offset(LAYOUT, "cq_off");
}
