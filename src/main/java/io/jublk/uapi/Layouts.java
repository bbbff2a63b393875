package io.jublk.uapi;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemoryLayout.PathElement;

/**
 * Conventions for the kernel struct layouts in this package.
 *
 * <p>Every struct class has a {@code LAYOUT} named after the C struct. Members keep their C names. An
 * anonymous C union or struct is a group whose name starts with {@value #ANONYMOUS}: its members are
 * reached as if they belonged to the enclosing struct, as in C. The ABI test walks these layouts and checks
 * each size and offset against the probe compiled from the real kernel header.
 */
public final class Layouts {
    private Layouts() {}

    /** Prefix of the name of a group that is anonymous in C. */
    public static final String ANONYMOUS = "$";

    /** Byte offset of a member given by its C path, e.g. {@code offset(SQE, "$u1", "cmd_op")}. */
    public static long offset(GroupLayout layout, String... path) {
        PathElement[] elements = new PathElement[path.length];
        for (int i = 0; i < path.length; i++) {
            elements[i] = PathElement.groupElement(path[i]);
        }
        return layout.byteOffset(elements);
    }

    /** Byte size of a member given by its C path. */
    public static long size(GroupLayout layout, String... path) {
        MemoryLayout m = layout;
        for (String p : path) {
            m = ((GroupLayout) m).select(PathElement.groupElement(p));
        }
        return m.byteSize();
    }

    /** Rounds {@code value} up to a multiple of {@code align} (a power of two). */
    public static long roundUp(long value, long align) {
        return (value + align - 1) & -align;
    }
}
