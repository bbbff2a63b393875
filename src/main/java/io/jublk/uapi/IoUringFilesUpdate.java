package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * {@code struct io_uring_files_update}: the argument of IORING_REGISTER_FILES_UPDATE, which puts new descriptors
 * into slots {@code offset}.. of a registered file table (e.g. a network target's socket after a reconnect).
 */
public final class IoUringFilesUpdate {
    private IoUringFilesUpdate() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("offset"),
            JAVA_INT.withName("resv"),
            JAVA_LONG.withName("fds")).withName("io_uring_files_update");

    public static final long OFFSET = Layouts.offset(LAYOUT, "offset");
    public static final long FDS = Layouts.offset(LAYOUT, "fds");
}
