package io.jublk.sys;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/** Owns one file descriptor; {@link #close()} closes it once, however often it is called. */
public final class Fd implements AutoCloseable {
    private final AtomicInteger fd;
    private final String name;

    private Fd(int fd, String name) {
        this.fd = new AtomicInteger(fd);
        this.name = name;
    }

    /** Takes ownership of an already open descriptor. */
    public static Fd adopt(int fd, String name) {
        if (fd < 0) {
            throw new IllegalArgumentException("not a descriptor: " + fd);
        }
        return new Fd(fd, name);
    }

    /** open(2); {@code flags} and {@code mode} as the kernel takes them. */
    public static Fd open(Path path, int flags, int mode) {
        return open(path, flags, mode, "open " + path);
    }

    public static Fd open(Path path, int flags, int mode, String operation) {
        try (Arena arena = Arena.ofConfined()) {
            int r = LibC.rawOpen(arena.allocateFrom(path.toString()), flags, mode);
            return new Fd(NativeException.check(r, operation), path.toString());
        }
    }

    /** Like {@link #open(Path, int, int)} but returns the negative errno instead of throwing. */
    public static int tryOpen(Path path, int flags, int mode) {
        try (Arena arena = Arena.ofConfined()) {
            return LibC.rawOpen(arena.allocateFrom(path.toString()), flags, mode);
        }
    }

    /** The descriptor number; throws once closed, so a stale number is never used. */
    public int get() {
        int v = fd.get();
        if (v < 0) {
            throw new IllegalStateException(name + " is closed");
        }
        return v;
    }

    /** Gives the descriptor up to a new owner: this no longer closes it. */
    public int release() {
        int v = fd.getAndSet(-1);
        if (v < 0) {
            throw new IllegalStateException(name + " is closed");
        }
        return v;
    }

    public boolean isOpen() {
        return fd.get() >= 0;
    }

    public String name() {
        return name;
    }

    @Override
    public void close() {
        int v = fd.getAndSet(-1);
        if (v >= 0) {
            // close(2) releases the descriptor even when it reports an error; never retry (EINTR included).
            LibC.rawClose(v);
        }
    }

    @Override
    public String toString() {
        return "Fd[" + fd.get() + " " + name + "]";
    }
}
