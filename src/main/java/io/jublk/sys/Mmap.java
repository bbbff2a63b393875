package io.jublk.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * mmap(2) whose unmapping belongs to an {@link Arena}: the returned segment is sized, bounds-checked, and
 * unmapped when the arena closes, so the mapping has exactly one owner and cannot be used after munmap.
 */
public final class Mmap {
    private Mmap() {}

    public static MemorySegment map(Arena arena, long length, int prot, int flags, int fd, long offset,
            String operation) {
        long addr = LibC.rawMmap(0, length, prot, flags, fd, offset);
        NativeException.check(addr, operation);
        return MemorySegment.ofAddress(addr).reinterpret(length, arena, s -> LibC.rawMunmap(s.address(), length));
    }
}
