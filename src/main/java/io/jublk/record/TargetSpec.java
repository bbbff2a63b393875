package io.jublk.record;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import io.jublk.spi.Target;
import java.util.List;
import java.util.Map;

/**
 * A target and its options as a device record keeps them. Each kind knows how to check itself, open its target
 * for a new device, and reopen it for a server taking an existing device over.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({@JsonSubTypes.Type(value = NullSpec.class, name = "null"),
        @JsonSubTypes.Type(value = LoopSpec.class, name = "loop")})
public sealed interface TargetSpec permits NullSpec, LoopSpec {

    /** A target opened for a new device, the spec completed with what opening learned, and warnings. */
    record Opened(Target target, TargetSpec spec, List<String> warnings) {}

    /** The target's name, as in `ublk add NAME`. */
    String kind();

    /** UBLK_F_* the target's options ask for. */
    long deviceFlags();

    /** Checks what can be checked without opening anything (ConfigException otherwise). */
    void check(DeviceSpec device);

    /** Opens (or creates) what the target serves, for a new device. */
    Opened open(DeviceSpec device);

    /**
     * Opens what the device was created with, for a new server taking it over; refuses (ConfigException) anything
     * that is not the same, or that does not fit the kernel's {@code deviceSize} and {@code logicalBlockSize}.
     */
    Target reopen(DeviceSpec device, long deviceSize, int logicalBlockSize);

    /** After a failed add: removes what {@link #open} created (a backing file), if it still is what was created. */
    default void undoCreate(Target target) {}

    /**
     * The same, from the record alone, for a device whose add never finished and whose server is gone: removes what
     * the record says the add created, if it still is that.
     */
    default void forgetCreated() {}

    /** Facts for `ublk list`: e.g. file and mode. */
    Map<String, Object> describe();
}
