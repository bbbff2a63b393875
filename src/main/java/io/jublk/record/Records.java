package io.jublk.record;

import io.jublk.spi.ConfigException;
import io.jublk.targets.Targets;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
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

    /**
     * Writes the record of its device whole (a new file renamed into place), and the properties udev imports for the
     * device (its serial and name, from the record) before it: both exist before ADD_DEV, so the block device's first
     * event already finds them.
     */
    public static void write(RunDirectory run, DeviceRecord r) {
        if (r.serial() != null) {
            run.writeAtomically(run.udevFile(r.id()), udevProperties(r).getBytes(StandardCharsets.UTF_8));
        }
        run.writeAtomically(run.recordFile(r.id()), bytes(r));
    }

    /**
     * The udev rule's view of a record, in udev's KEY=value form ({@code IMPORT{file}}). A file, not a program: udev
     * runs its helpers inside systemd-udevd's sandbox, where a JVM cannot start (MemoryDenyWriteExecute), and at every
     * event of the device.
     */
    static String udevProperties(DeviceRecord r) {
        StringBuilder b = new StringBuilder("JUBLK_SERIAL=" + r.serial() + "\n");
        if (r.name() != null) {
            b.append("JUBLK_NAME=").append(r.name()).append('\n');
        }
        return b.toString();
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
            boolean removed = Files.deleteIfExists(run.recordFile(r.id()));
            Files.deleteIfExists(run.udevFile(r.id()));
            return removed;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove " + run.recordFile(r.id()), e);
        }
    }
}
