package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/** {@code struct open_how}, the argument of openat2(2). */
public final class OpenHow {
    private OpenHow() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("flags"),
            JAVA_LONG.withName("mode"),
            JAVA_LONG.withName("resolve")).withName("open_how");

    public static final long SIZE = LAYOUT.byteSize();
    public static final long FLAGS = Layouts.offset(LAYOUT, "flags");
    public static final long MODE = Layouts.offset(LAYOUT, "mode");
    public static final long RESOLVE = Layouts.offset(LAYOUT, "resolve");

    public static void write(MemorySegment s, long flags, long mode, long resolve) {
        s.set(JAVA_LONG, FLAGS, flags);
        s.set(JAVA_LONG, MODE, mode);
        s.set(JAVA_LONG, RESOLVE, resolve);
    }
}
