package io.jublk.targets;

import com.fasterxml.jackson.annotation.JsonTypeInfo;
import io.jublk.spi.Target;
import java.util.List;
import java.util.Map;

/**
 * A target and its options as a device record keeps them: a record, one kind per {@link TargetType}. Each kind knows
 * how to check itself, open its target for a new device, and reopen it for a server taking an existing device over.
 *
 * <p>In JSON the kind is the {@code type} property, the {@link TargetType#name() name} of its type; the record's
 * JSON mapper learns the kinds from {@link Targets#ALL}, so a new kind needs no entry here.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
public interface TargetSpec {

    /** A target opened for a new device, the spec completed with what opening learned, and warnings. */
    record Opened(Target target, TargetSpec spec, List<String> warnings) {}

    /** UBLK_F_* the target's options ask for. */
    long deviceFlags();

    /**
     * Checks what can be checked without opening anything (ConfigException otherwise).
     *
     * @param logicalBlockSize the logical block size asked for, or null for the target's choice
     */
    void check(Integer logicalBlockSize);

    /**
     * Opens (or creates) what the target serves, for a new device.
     *
     * @param logicalBlockSize the logical block size asked for, or null for the target's choice
     */
    Opened open(Integer logicalBlockSize);

    /**
     * Opens what the device was created with, for a new server taking it over; refuses (ConfigException) anything
     * that is not the same, or that does not fit the kernel's {@code deviceSize} and {@code logicalBlockSize}.
     */
    Target reopen(long deviceSize, int logicalBlockSize);

    /**
     * This spec as a declaration ({@code /etc/jublk/NAME.json}) gives it: without what {@link #open} learns and a
     * record keeps (a backing file's identity, say). A declared spec that differs from its {@code declared()} names
     * such facts, which a declaration must not.
     */
    default TargetSpec declared() {
        return this;
    }

    /**
     * The spec with every choice it left to the kernel made, at add, before the device is created: {@code features}
     * are the kernel's UBLK_F_* (GET_FEATURES), {@code privileged} whether the device is a root's; a choice that
     * falls short of what the user would expect is told through {@code notices} (one line each). The returned spec's
     * {@link #deviceFlags()} are what the device is created with.
     */
    default TargetSpec settle(long features, boolean privileged, java.util.function.Consumer<String> notices) {
        return this;
    }

    /** After a failed add: removes what {@link #open} created (a backing file), if it still is what was created. */
    default void undoCreate(Target target) {}

    /**
     * The same, from the record alone, for a device whose add never finished and whose server is gone: removes what
     * the record says the add created, if it still is that.
     */
    default void forgetCreated() {}

    /**
     * This spec after {@code target} was resized online to {@code newSize} bytes: what a record must say from now on
     * (e.g. a backing file's new size), so that a recovery finds what it expects.
     */
    default TargetSpec resized(Target target, long newSize) {
        return this;
    }

    /** What the final flush makes durable, named for messages (e.g. the backing file), or null. */
    default String backingStore() {
        return null;
    }

    /**
     * Facts for `ublk list` and the metrics' labels, by the names in its type's {@link TargetType#columns()}
     * (e.g. file and mode); a fact left out shows as absent.
     */
    Map<String, String> describe();
}
