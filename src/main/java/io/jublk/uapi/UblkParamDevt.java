package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/** {@code struct ublk_param_devt}: read-only; the char and disk device numbers, valid once started. */
public final class UblkParamDevt {
    private UblkParamDevt() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("char_major"),
            JAVA_INT.withName("char_minor"),
            JAVA_INT.withName("disk_major"),
            JAVA_INT.withName("disk_minor")).withName("ublk_param_devt");

    public static final long CHAR_MAJOR = Layouts.offset(LAYOUT, "char_major");
    public static final long CHAR_MINOR = Layouts.offset(LAYOUT, "char_minor");
    public static final long DISK_MAJOR = Layouts.offset(LAYOUT, "disk_major");
    public static final long DISK_MINOR = Layouts.offset(LAYOUT, "disk_minor");
}
