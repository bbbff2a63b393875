package io.jublk.spi;

/**
 * What a {@link QueueHandler} may do on its queue: start asynchronous file operations on the queue's own
 * io_uring. Each call prepares one submission entry; entries go to the kernel together, once per loop turn,
 * and each completion is handed to {@link QueueHandler#ioDone(Request, int, int)} with the same {@code sub}.
 *
 * <p>{@code file} is an index returned by {@link #registerFile(int)}; {@code bufferOffset} is an offset into
 * the request's buffer.
 */
public interface QueueContext {
    int deviceId();

    int queueId();

    int depth();

    /**
     * Registers a descriptor with the queue's ring (a fixed file, so the kernel skips the file-table lookup
     * per operation). Only during {@link Target#openQueue(QueueContext)}. The descriptor stays owned by the
     * caller and must outlive the queue.
     */
    int registerFile(int fd);

    void read(Request r, int sub, int file, long fileOffset, long bufferOffset, int length, int rwFlags);

    void write(Request r, int sub, int file, long fileOffset, long bufferOffset, int length, int rwFlags);

    /** fsync, or fdatasync when {@code datasync}. */
    void fsync(Request r, int sub, int file, boolean datasync);

    void fallocate(Request r, int sub, int file, int mode, long offset, long length);
}
