package io.jublk.record;

import io.jublk.spi.ConfigException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * A device's serial: a UUID in its canonical form (36 characters, lower case), kept in the device's record and
 * exposed by the udev rule as {@code /dev/disk/by-id/ublk-SERIAL}. Lower case always, so that one serial is one
 * link name however it was typed.
 */
public final class Serial {
    private static final Pattern UUID_FORM = Pattern.compile(
            "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");

    private Serial() {}

    /**
     * {@code s} in canonical form; a serial that is not a UUID as 8-4-4-4-12 hex digits is refused
     * ({@link UUID#fromString} alone would take "1-2-3-4-5").
     *
     * @param what how the input is named in the refusal (e.g. "--serial")
     */
    public static String parse(String s, String what) {
        if (s == null || !UUID_FORM.matcher(s).matches()) {
            throw new ConfigException(what + " must be a UUID (8-4-4-4-12 hex digits, e.g. " + UUID.randomUUID()
                    + "), not '" + s + "'");
        }
        return s.toLowerCase(Locale.ROOT);
    }

    /** A new random serial, for a device added without one. */
    public static String random() {
        return UUID.randomUUID().toString();
    }

    /**
     * The serial of a declared device whose declaration gives none: the same at every start of {@code name} on this
     * machine (made from {@code /etc/machine-id} and the name), so its by-id link survives restarts and reboots;
     * another machine's device of the same name gets another.
     */
    public static String forDeclaration(String name) {
        String machine;
        try {
            machine = Files.readString(Path.of("/etc/machine-id")).trim();
        } catch (IOException e) {
            machine = "";
        }
        return UUID.nameUUIDFromBytes(("jublk " + machine + " " + name).getBytes(StandardCharsets.UTF_8)).toString();
    }
}
