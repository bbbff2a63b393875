package io.jublk.record;

import io.jublk.spi.ConfigException;
import io.jublk.targets.Targets;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.PropertyNamingStrategies;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.jsontype.NamedType;

/** Reading and writing device records (JSON, snake_case field names). */
public final class Records {
    private Records() {}

    /**
     * The one JSON mapper of jublk: records, the daemon's messages, `list --json`. A target's spec is written with its
     * type's name as {@code type}, as the registry has it.
     */
    public static final JsonMapper JSON = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .registerSubtypes(Targets.ALL.stream().map(t -> new NamedType(t.spec(), t.name())).toArray(NamedType[]::new))
            .build();

    public static byte[] bytes(DeviceRecord r) {
        return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(r);
    }

    public static DeviceRecord parse(byte[] json) {
        return JSON.readValue(json, DeviceRecord.class);
    }

    /** Writes the record of its device whole (a new file renamed into place). */
    public static void write(RunDirectory run, DeviceRecord r) {
        run.writeAtomically(run.recordFile(r.id()), bytes(r));
    }

    /** The record of device {@code id}, if there is one; a damaged or newer record is an error, not an absence. */
    public static Optional<DeviceRecord> read(RunDirectory run, int id) {
        Path f = run.recordFile(id);
        byte[] b;
        try {
            if (!Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) {
                return Optional.empty();
            }
            b = Files.readAllBytes(f);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + f, e);
        }
        DeviceRecord r;
        try {
            r = parse(b);
        } catch (JacksonException e) {
            throw new ConfigException(f + " is not a device record jublk can read (" + e.getOriginalMessage() + ")");
        }
        if (r.format() > DeviceRecord.FORMAT) {
            throw new ConfigException(f + " has record format " + r.format() + ", newer than this jublk's ("
                    + DeviceRecord.FORMAT + ")");
        }
        if (r.id() != id) {
            throw new ConfigException(f + " describes device " + r.id() + ", not " + id);
        }
        return Optional.of(r);
    }

    /** Removes the record of device {@code id} if it still is {@code r} (same token): never a newer device's. */
    public static boolean removeIfSame(RunDirectory run, DeviceRecord r) {
        try {
            Optional<DeviceRecord> now = read(run, r.id());
            if (now.isEmpty() || !now.get().token().equals(r.token())) {
                return false;
            }
        } catch (ConfigException e) {
            return false;
        }
        try {
            return Files.deleteIfExists(run.recordFile(r.id()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove " + run.recordFile(r.id()), e);
        }
    }
}
