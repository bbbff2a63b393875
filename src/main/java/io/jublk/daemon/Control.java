package io.jublk.daemon;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

/**
 * The control socket's messages ({@code ublkN.sock} in the run directory; root only): one JSON document per line.
 * `ublk del` sends {@link Stop} and reads events until {@link Stopped}; a stop that takes long is seen to be
 * {@link Flushing}, which is never cut short.
 */
public final class Control {
    private Control() {}

    @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "op")
    @JsonSubTypes({@JsonSubTypes.Type(value = Stop.class, name = "stop"),
            @JsonSubTypes.Type(value = Status.class, name = "status"),
            @JsonSubTypes.Type(value = Resize.class, name = "resize"),
            @JsonSubTypes.Type(value = HandOver.class, name = "hand-over")})
    public sealed interface Request permits Stop, Status, Resize, HandOver {}

    /**
     * Stop the device, make everything durable, delete it.
     *
     * @param safe only if nobody has the device open (else {@link Refused}, and the device goes on)
     */
    public record Stop(boolean safe) implements Request {}

    /**
     * Change the live device's size; answered with {@link Resized} or {@link Refused}.
     *
     * @param force allow shrinking (what lies past the new end is no longer reachable through the device)
     */
    public record Resize(long size, boolean force) implements Request {}

    /**
     * From the new server of `ublk upgrade`: quiesce the device, answer every request held, release the device and its
     * backing store, and exit without deleting the device or its record; answered with {@link HandedOver} once the
     * device is the kernel's to give to the new server, or {@link Refused} (the device serves on as before).
     */
    public record HandOver() implements Request {}

    /** How much the device has served so far: answered with one {@link Counters}. */
    public record Status() implements Request {}

    @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "event")
    @JsonSubTypes({@JsonSubTypes.Type(value = Stopping.class, name = "stopping"),
            @JsonSubTypes.Type(value = Flushing.class, name = "flushing"),
            @JsonSubTypes.Type(value = Stopped.class, name = "stopped"),
            @JsonSubTypes.Type(value = Counters.class, name = "counters"),
            @JsonSubTypes.Type(value = Resized.class, name = "resized"),
            @JsonSubTypes.Type(value = HandedOver.class, name = "handed-over"),
            @JsonSubTypes.Type(value = Refused.class, name = "refused")})
    public sealed interface Event permits Stopping, Flushing, Stopped, Counters, Resized, HandedOver, Refused {}

    /**
     * The old server let go of the device: it answered every request it held and released {@code /dev/ublkcN}; it
     * exits now without deleting the device or its record.
     *
     * @param flushErrno 0, or the negative errno of the old server's final flush of {@code flushed}
     */
    public record HandedOver(int flushErrno, String flushed) implements Event {}

    /** The device has its new size. */
    public record Resized(long size) implements Event {}

    /** The request was refused; the device goes on as it was. */
    public record Refused(Failure failure) implements Event {}

    /** STOP_DEV is on its way: the kernel lets the requests in flight finish. */
    public record Stopping() implements Event {}

    /** The queues stopped; the backing store is being made durable (fdatasync). */
    public record Flushing(String what) implements Event {}

    /**
     * The device's requests since its server started, over all queues: completed per kind, bytes moved, failures,
     * and requests the server holds now; {@code nanos} is the server's clock when counted (for rates).
     */
    public record Counters(long nanos, long reads, long writes, long flushes, long discards, long writeZeroes,
            long bytesRead, long bytesWritten, long failed, long inFlight) implements Event {}

    /**
     * The device is gone. Each errno is 0 or the negative errno of that step.
     *
     * @param flushed what was flushed (e.g. the backing file), for the message
     */
    public record Stopped(int stopErrno, int flushErrno, int deleteErrno, String flushed) implements Event {}
}
