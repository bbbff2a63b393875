package io.jublk.queue;

/**
 * Test-scope access to a queue's cross-thread completion path ({@link CompletionMailbox} and its {@link Waker}),
 * for the JMH benchmarks in {@code io.jublk.bench}: the product keeps both inside the queue.
 */
public final class BenchMailbox implements AutoCloseable {
    private final Waker waker = new Waker("a benchmark");
    private final CompletionMailbox mailbox;

    public BenchMailbox(int depth) {
        mailbox = new CompletionMailbox(depth, waker);
    }

    /** The eventfd a completer writes when the consumer sleeps. */
    public int wakeFd() {
        return waker.fd();
    }

    public void arm(long id) {
        mailbox.arm(id);
    }

    public boolean complete(long id, int result) {
        return mailbox.complete(id, result);
    }

    public int take() {
        return mailbox.take();
    }

    public int result(int tag) {
        return mailbox.result(tag);
    }

    public boolean mayBlock() {
        return mailbox.mayBlock();
    }

    public void awake() {
        mailbox.awake();
    }

    @Override
    public void close() {
        mailbox.close();
        waker.close();
    }
}
