package io.jublk.queue;

import io.jublk.sys.LibC;
import io.jublk.sys.NativeException;
import io.jublk.uapi.LinuxUapi;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * An eventfd that any thread writes to wake a queue thread out of io_uring_enter (the queue keeps a read of it
 * in its ring), and that the queue thread closes when it ends, with no lock on either side.
 *
 * <p>A writer passes a gate, a counter of writers inside plus a closed bit: it enters, writes, leaves.
 * {@link #close()} shuts the gate, waits until the writers inside have left, and only then closes the descriptor.
 * So no write ever reaches a closed descriptor, or the file that reused its number, and a wake after the close
 * does nothing. Waking allocates nothing, on any thread.
 */
final class Waker implements AutoCloseable {
    private static final VarHandle GATE;
    private static final int CLOSED = Integer.MIN_VALUE;

    static {
        try {
            GATE = MethodHandles.lookup().findVarHandle(Waker.class, "gate", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final int fd;
    /** Writers inside, with {@link #CLOSED} set once closing began. */
    @SuppressWarnings("unused") // through GATE
    private volatile int gate;

    /** @param what names the owner in the error if the eventfd cannot be made */
    Waker(String what) {
        fd = NativeException.check(LibC.rawEventfd(0, LinuxUapi.EFD_CLOEXEC), "eventfd for " + what);
    }

    /** The descriptor to read in the ring; valid until {@link #close()}. */
    int fd() {
        return fd;
    }

    /** Adds 1 to the eventfd's counter, unless closed. Any thread. Returns whether it wrote. */
    boolean wake() {
        if ((int) GATE.getAndAdd(this, 1) < 0) {
            GATE.getAndAdd(this, -1);
            return false;
        }
        try {
            LibC.eventfdWrite(fd, 1);
            return true;
        } finally {
            GATE.getAndAdd(this, -1);
        }
    }

    /** Shuts the gate, waits for writers inside (each one system call away from leaving), closes. Idempotent. */
    @Override
    public void close() {
        int g;
        do {
            g = (int) GATE.getVolatile(this);
            if (g < 0) {
                return;
            }
        } while (!GATE.compareAndSet(this, g, g | CLOSED));
        for (int spins = 0; (int) GATE.getVolatile(this) != CLOSED; spins++) {
            if (spins < 100) {
                Thread.onSpinWait();
            } else {
                Thread.yield();
            }
        }
        LibC.rawClose(fd);
    }
}
