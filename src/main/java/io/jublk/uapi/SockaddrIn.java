package io.jublk.uapi;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.nio.ByteOrder;

/** {@code struct sockaddr_in} (linux/in.h), an IPv4 address and port as connect(2) takes them. */
public final class SockaddrIn {
    private SockaddrIn() {}

    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_SHORT.withName("sin_family"),
            JAVA_SHORT.withName("sin_port"),
            JAVA_INT.withName("sin_addr"),
            MemoryLayout.sequenceLayout(8, JAVA_BYTE).withName("__pad")).withName("sockaddr_in");

    public static final long SIZE = LAYOUT.byteSize();
    public static final long FAMILY = Layouts.offset(LAYOUT, "sin_family");
    public static final long PORT = Layouts.offset(LAYOUT, "sin_port");
    public static final long ADDR = Layouts.offset(LAYOUT, "sin_addr");

    /**
     * Fills {@code s} (at least {@link #SIZE} bytes) with AF_INET, {@code port} and {@code address}, both given in
     * host byte order (e.g. {@link LinuxUapi#INADDR_LOOPBACK}); they are stored in network byte order.
     */
    public static void write(MemorySegment s, int address, int port) {
        s.asSlice(0, SIZE).fill((byte) 0);
        s.set(JAVA_SHORT, FAMILY, (short) LinuxUapi.AF_INET);
        s.set(JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN), PORT, (short) port);
        s.set(JAVA_INT.withOrder(ByteOrder.BIG_ENDIAN), ADDR, address);
    }
}
