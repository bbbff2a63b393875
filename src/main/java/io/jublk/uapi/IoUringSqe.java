package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * {@code struct io_uring_sqe}, the 64-byte submission entry (only the members jublk uses are named). With
 * {@code IORING_SETUP_SQE128} each entry is 128 bytes and the command area at {@link #CMD} grows from 16 to
 * 80 bytes, enough for a 32-byte {@code ublksrv_ctrl_cmd}.
 */
public final class IoUringSqe {
    private IoUringSqe() {}

    private static final String U1 = Layouts.ANONYMOUS + "u1";
    private static final String U2 = Layouts.ANONYMOUS + "u2";
    private static final String U3 = Layouts.ANONYMOUS + "u3";
    private static final String U4 = Layouts.ANONYMOUS + "u4";
    private static final String U5 = Layouts.ANONYMOUS + "u5";
    private static final String U6 = Layouts.ANONYMOUS + "u6";
    private static final String S1 = Layouts.ANONYMOUS + "s1";
    private static final String S6 = Layouts.ANONYMOUS + "s6";

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_BYTE.withName("opcode"),
            JAVA_BYTE.withName("flags"),
            JAVA_SHORT.withName("ioprio"),
            JAVA_INT.withName("fd"),
            MemoryLayout.unionLayout(
                    JAVA_LONG.withName("off"),
                    JAVA_LONG.withName("addr2"),
                    MemoryLayout.structLayout(
                            JAVA_INT.withName("cmd_op"),
                            JAVA_INT.withName("__pad1")).withName(S1)).withName(U1),
            MemoryLayout.unionLayout(
                    JAVA_LONG.withName("addr"),
                    JAVA_LONG.withName("splice_off_in")).withName(U2),
            JAVA_INT.withName("len"),
            MemoryLayout.unionLayout(
                    JAVA_INT.withName("rw_flags"),
                    JAVA_INT.withName("fsync_flags"),
                    JAVA_INT.withName("poll32_events"),
                    JAVA_INT.withName("msg_flags"),
                    JAVA_INT.withName("uring_cmd_flags"),
                    JAVA_INT.withName("cancel_flags"),
                    JAVA_INT.withName("nop_flags")).withName(U3),
            JAVA_LONG.withName("user_data"),
            MemoryLayout.unionLayout(
                    JAVA_SHORT.withName("buf_index"),
                    JAVA_SHORT.withName("buf_group")).withName(U4),
            JAVA_SHORT.withName("personality"),
            MemoryLayout.unionLayout(
                    JAVA_INT.withName("splice_fd_in"),
                    JAVA_INT.withName("file_index")).withName(U5),
            MemoryLayout.unionLayout(
                    MemoryLayout.structLayout(
                            JAVA_LONG.withName("addr3"),
                            MemoryLayout.sequenceLayout(1, JAVA_LONG).withName("__pad2")).withName(S6),
                    MemoryLayout.sequenceLayout(0, JAVA_BYTE).withName("cmd")).withName(U6))
            .withName("io_uring_sqe");

    public static final long SIZE = LAYOUT.byteSize();
    /** Size of an entry on a ring set up with IORING_SETUP_SQE128. */
    public static final long SIZE128 = 2 * SIZE;

    public static final long OPCODE = Layouts.offset(LAYOUT, "opcode");
    public static final long FLAGS = Layouts.offset(LAYOUT, "flags");
    public static final long IOPRIO = Layouts.offset(LAYOUT, "ioprio");
    public static final long FD = Layouts.offset(LAYOUT, "fd");
    public static final long OFF = Layouts.offset(LAYOUT, U1, "off");
    public static final long ADDR2 = Layouts.offset(LAYOUT, U1, "addr2");
    public static final long CMD_OP = Layouts.offset(LAYOUT, U1, S1, "cmd_op");
    public static final long ADDR = Layouts.offset(LAYOUT, U2, "addr");
    public static final long LEN = Layouts.offset(LAYOUT, "len");
    public static final long RW_FLAGS = Layouts.offset(LAYOUT, U3, "rw_flags");
    public static final long FSYNC_FLAGS = Layouts.offset(LAYOUT, U3, "fsync_flags");
    public static final long POLL32_EVENTS = Layouts.offset(LAYOUT, U3, "poll32_events");
    public static final long MSG_FLAGS = Layouts.offset(LAYOUT, U3, "msg_flags");
    public static final long URING_CMD_FLAGS = Layouts.offset(LAYOUT, U3, "uring_cmd_flags");
    public static final long CANCEL_FLAGS = Layouts.offset(LAYOUT, U3, "cancel_flags");
    public static final long NOP_FLAGS = Layouts.offset(LAYOUT, U3, "nop_flags");
    public static final long USER_DATA = Layouts.offset(LAYOUT, "user_data");
    public static final long BUF_INDEX = Layouts.offset(LAYOUT, U4, "buf_index");
    public static final long BUF_GROUP = Layouts.offset(LAYOUT, U4, "buf_group");
    public static final long PERSONALITY = Layouts.offset(LAYOUT, "personality");
    public static final long FILE_INDEX = Layouts.offset(LAYOUT, U5, "file_index");
    public static final long ADDR3 = Layouts.offset(LAYOUT, U6, S6, "addr3");
    public static final long CMD = Layouts.offset(LAYOUT, U6, "cmd");

    /** Bytes of command area in a 64-byte entry and in a 128-byte entry. */
    public static final long CMD_BYTES = SIZE - CMD;
    public static final long CMD_BYTES_128 = SIZE128 - CMD;
}
