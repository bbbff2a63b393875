package io.jublk.vmtier;

import io.jublk.sys.Fd;
import io.jublk.sys.LibC;
import io.jublk.sys.NativeException;
import io.jublk.uapi.LinuxUapi;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * A block device (or file) opened with O_DIRECT, read and written through the project's own FFM calls: every
 * request goes to the device as it is made, with no page cache in between. Buffers must be 4096-aligned.
 */
final class DirectIo implements AutoCloseable {
    static final int ALIGN = 4096;

    private final Fd fd;
    private final Path path;

    private DirectIo(Fd fd, Path path) {
        this.fd = fd;
        this.path = path;
    }

    static DirectIo open(Path path) {
        return new DirectIo(Fd.open(path, LinuxUapi.O_RDWR | LinuxUapi.O_DIRECT | LinuxUapi.O_CLOEXEC, 0), path);
    }

    /** Writes all of {@code data} at {@code offset}, in requests of {@code chunk} bytes. */
    void write(MemorySegment data, long offset, int chunk) {
        transfer(true, data, offset, chunk);
    }

    /** Reads {@code into.byteSize()} bytes at {@code offset}, in requests of {@code chunk} bytes. */
    void read(MemorySegment into, long offset, int chunk) {
        transfer(false, into, offset, chunk);
    }

    private void transfer(boolean write, MemorySegment buf, long offset, int chunk) {
        for (long done = 0; done < buf.byteSize(); ) {
            MemorySegment part = buf.asSlice(done, Math.min(chunk, buf.byteSize() - done));
            long at = offset + done;
            long n = write ? LibC.rawPwrite(fd.get(), part, part.byteSize(), at)
                    : LibC.rawPread(fd.get(), part, part.byteSize(), at);
            NativeException.check(n, (write ? "pwrite " : "pread ") + part.byteSize() + " bytes at " + at + " of "
                    + path);
            if (n == 0) {
                throw new IllegalStateException((write ? "pwrite" : "pread") + " at " + at + " of " + path
                        + " moved nothing (past the end?)");
            }
            done += n;
        }
    }

    void fdatasync() {
        NativeException.check(LibC.rawFdatasync(fd.get()), "fdatasync " + path);
    }

    @Override
    public void close() {
        fd.close();
    }
}
