package io.jublk.daemon;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import io.jublk.record.DeviceSpec;

/**
 * What a daemon and the `ublk add` (or `recover`) that started it say to each other, one JSON document per line:
 * the request on the daemon's stdin, then warnings and one {@link Ready} or {@link Failed} on its stdout, after
 * which the daemon closes stdout and serves on. Last, on stdin again, the launcher says whether it told the user
 * ({@link Accepted}) or was interrupted first ({@link Abandoned}): an add nobody was told of is undone whole.
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
     * @param spec   what to serve
     * @param id     the id asked for, or null for the lowest free one
     * @param name   the declaration it comes from (`ublk up NAME`), or null
     * @param serial its serial (canonical UUID), or null for a new random one
     */
    public record Add(DeviceSpec spec, Integer id, String name, String serial) implements Request {}

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

    /** The launcher's last word. */
    @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
    @JsonSubTypes({@JsonSubTypes.Type(value = Accepted.class, name = "accepted"),
            @JsonSubTypes.Type(value = Abandoned.class, name = "abandoned")})
    public sealed interface Outcome permits Accepted, Abandoned {}

    /** The user was told the device's path: the device is theirs. */
    public record Accepted() implements Outcome {}

    /**
     * The launcher was interrupted (or gave up waiting) before it told the user: the add failed as far as anyone
     * knows, so the daemon undoes it whole, the file it created included, even if the device was already live.
     */
    public record Abandoned() implements Outcome {}
}
