package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.nio.charset.StandardCharsets;

/** {@code struct sockaddr_un} (linux/un.h), a Unix-domain socket's path as connect(2) takes it. */
public final class SockaddrUn {
    private SockaddrUn() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_SHORT.withName("sun_family"),
            MemoryLayout.sequenceLayout(108, JAVA_BYTE).withName("sun_path")).withName("sockaddr_un");

    public static final long SIZE = LAYOUT.byteSize();
    public static final long FAMILY = Layouts.offset(LAYOUT, "sun_family");
    public static final long PATH = Layouts.offset(LAYOUT, "sun_path");
    public static final int MAX_PATH = 108;

    /**
     * Fills {@code s} (at least {@link #SIZE} bytes) with AF_UNIX and {@code path}, NUL-terminated, and returns the
     * address length to pass with it. A path that does not fit (107 bytes and more) is refused.
     */
    public static int write(MemorySegment s, String path) {
        byte[] p = path.getBytes(StandardCharsets.UTF_8);
        if (p.length >= MAX_PATH) {
            throw new IllegalArgumentException("a Unix socket path has at most " + (MAX_PATH - 1) + " bytes: " + path);
        }
        s.asSlice(0, SIZE).fill((byte) 0);
        s.set(JAVA_SHORT, FAMILY, (short) LinuxUapi.AF_UNIX);
        MemorySegment.copy(p, 0, s, JAVA_BYTE, PATH, p.length);
        return (int) PATH + p.length + 1;
    }

    /**
     * Fills {@code s} with AF_UNIX and the abstract name {@code name} (no file: the name lives in the network
     * namespace), and returns the address length. An abstract address is a NUL byte and then the name's bytes, with
     * no terminator: the length alone says where it ends, and a NUL in it would be part of the name.
     */
    public static int writeAbstract(MemorySegment s, String name) {
        byte[] p = name.getBytes(StandardCharsets.UTF_8);
        if (p.length + 1 > MAX_PATH) {
            throw new IllegalArgumentException("an abstract Unix socket name has at most " + (MAX_PATH - 1)
                    + " bytes: " + name);
        }
        s.asSlice(0, SIZE).fill((byte) 0);
        s.set(JAVA_SHORT, FAMILY, (short) LinuxUapi.AF_UNIX);
        MemorySegment.copy(p, 0, s, JAVA_BYTE, PATH + 1, p.length);
        return (int) PATH + 1 + p.length;
    }
}
