package io.jublk.daemon;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import io.jublk.record.DeviceSpec;

/**
 * What a daemon and the `ublk add` (or `recover`) that started it say to each other, one JSON document per line:
 * the request on the daemon's stdin, then warnings and one {@link Ready} or {@link Failed} on its stdout, after
 * which the daemon closes stdout and serves on.
 */
public final class Handshake {
    private Handshake() {}

    /** What the daemon is to do. */
    @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "action")
    @JsonSubTypes({@JsonSubTypes.Type(value = Add.class, name = "add"),
            @JsonSubTypes.Type(value = Recover.class, name = "recover")})
    public sealed interface Request permits Add, Recover {}

    /**
     * Create a device and serve it.
     *
     * @param spec what to serve
     * @param id   the id asked for, or null for the lowest free one
     */
    public record Add(DeviceSpec spec, Integer id) implements Request {}

    /** Take over device {@code id}, whose server died, as its record describes it. */
    public record Recover(int id) implements Request {}

    /** What the daemon answers. */
    @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
    @JsonSubTypes({@JsonSubTypes.Type(value = Warning.class, name = "warning"),
            @JsonSubTypes.Type(value = Ready.class, name = "ready"),
            @JsonSubTypes.Type(value = Failed.class, name = "failed")})
    public sealed interface Answer permits Warning, Ready, Failed {}

    /** Something the user should hear about; the start goes on. */
    public record Warning(String message) implements Answer {}

    /** The device is live. */
    public record Ready(int id, String blockDevice) implements Answer {}

    /** The start failed; nothing is left behind. */
    public record Failed(Failure failure) implements Answer {}
}
