package io.jublk.daemon;

/**
 * Who may end a server, and when: a signal (SIGTERM, SIGINT), `ublk del` over the control socket, or a queue that
 * died all request a stop; the server's own thread does the stopping (or, while starting, the undoing), then says
 * it is done. A signal handler therefore never races the start: it asks, and waits until the work is finished.
 */
final class Lifecycle {
    private String stopReason;
    private boolean done;

    /** Asks the server to stop (the first reason wins). */
    synchronized void requestStop(String reason) {
        if (stopReason == null) {
            stopReason = reason;
        }
        notifyAll();
    }

    synchronized boolean stopRequested() {
        return stopReason != null;
    }

    synchronized String stopReason() {
        return stopReason;
    }

    /** Throws {@link StopRequested} if a stop was asked for: a start checks this between its steps. */
    synchronized void checkNotStopped() {
        if (stopReason != null) {
            throw new StopRequested(stopReason);
        }
    }

    synchronized void awaitStopRequest() throws InterruptedException {
        while (stopReason == null) {
            wait();
        }
    }

    /** The server has stopped (or its start was undone): nothing of it is left to clean up. */
    synchronized void done() {
        done = true;
        notifyAll();
    }

    synchronized void awaitDone() throws InterruptedException {
        while (!done) {
            wait();
        }
    }

    /** A start abandoned because a stop was asked for during it. */
    static final class StopRequested extends RuntimeException {
        private static final long serialVersionUID = 1L;

        StopRequested(String reason) {
            super("stopped while starting (" + reason + ")");
        }
    }
}
