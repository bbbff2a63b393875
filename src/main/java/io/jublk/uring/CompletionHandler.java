package io.jublk.uring;

/**
 * Receives completions from {@link IoUring#forEachCompletion(CompletionHandler)}. Implemented by long-lived
 * objects (a queue, a target), never by a lambda built per I/O, so reaping allocates nothing.
 */
@FunctionalInterface
public interface CompletionHandler {
    /**
     * @param userData the SQE's user_data, see {@link UserData}
     * @param res      the result: bytes, a count, or a negative errno
     * @param flags    IORING_CQE_F_* flags
     */
    void onCompletion(long userData, int res, int flags);
}
