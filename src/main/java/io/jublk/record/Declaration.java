package io.jublk.record;

import io.jublk.spi.ConfigException;
import io.jublk.targets.TargetSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * A device declared in a file, {@code /etc/jublk/NAME.json}, for `ublk up NAME` (the systemd unit
 * {@code jublk@NAME.service}) to serve: its spec in the device record's format, and optionally a fixed device id and a
 * serial.
 *
 * <pre>{@code
 * {
 *   "id" : 7,
 *   "serial" : "0b9c4f2e-6d1a-4c3b-9a8e-2f7d5e1c0a34",
 *   "spec" : {
 *     "target" : { "type" : "loop", "file" : "/srv/disks/db.img", "size" : 1073741824 },
 *     "recovery" : "default"
 *   }
 * }
 * }</pre>
 *
 * <p>A spec's fields a declaration leaves out get `ublk add`'s defaults (one queue, depth 128, no recovery, a loop
 * target with O_DIRECT). What a record learns when the target opens (a backing file's identity) is refused: a
 * declaration says what to serve, the record what was found.
 *
 * @param name   the declaration's name: its file name without {@code .json}, the unit's instance name
 * @param id     the device id to use, or null for the lowest free one
 * @param serial the device's serial (canonical UUID): the declaration's, or one made from the machine and the name
 * @param spec   what to serve, checked
 */
public record Declaration(String name, Integer id, String serial, DeviceSpec spec) {
    /** Letters, digits, '.', '_' and '-': a file name, and a systemd instance name that needs no escaping. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");
    private static final Set<String> FIELDS = Set.of("id", "serial", "spec");

    /** Where declarations are: {@code $JUBLK_CONFIG_DIR}, else {@code /etc/jublk}. */
    public static Path directory() {
        String env = System.getenv("JUBLK_CONFIG_DIR");
        return Path.of(env != null && !env.isBlank() ? env : "/etc/jublk").toAbsolutePath();
    }

    /** Checks a declaration's name (ConfigException otherwise). */
    public static String checkName(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new ConfigException("a declared device's name is 1-64 letters, digits, '.', '_' or '-', starting "
                    + "with a letter or digit, not '" + name + "'");
        }
        return name;
    }

    /** Reads and checks {@code DIR/NAME.json}; every problem is one line naming the file. */
    public static Declaration read(Path dir, String name) {
        checkName(name);
        Path f = dir.resolve(name + ".json");
        byte[] json;
        try {
            if (!Files.isRegularFile(f) && Files.exists(f, LinkOption.NOFOLLOW_LINKS)) {
                throw new ConfigException(f + " is not a regular file");
            }
            json = Files.readAllBytes(f);
            // Whoever can change a declaration chooses which file root serves: only its owner (root) may write it.
            int uid = (Integer) Files.getAttribute(f, "unix:uid");
            int mode = (Integer) Files.getAttribute(f, "unix:mode");
            if (uid != io.jublk.sys.LibC.geteuid() || (mode & 022) != 0) {
                throw new ConfigException(f + " must belong to the user running jublk and be writable by nobody "
                        + "else (chown root " + f + "; chmod go-w " + f + ")");
            }
        } catch (NoSuchFileException e) {
            throw new ConfigException("no device is declared as " + name + ": " + f + " does not exist");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + f, e);
        }
        try {
            return parse(name, json);
        } catch (ConfigException e) {
            throw new ConfigException(f + ": " + e.getMessage());
        }
    }

    /** The declaration {@code name} holds as {@code json}; ConfigException with one line otherwise. */
    public static Declaration parse(String name, byte[] json) {
        JsonNode root;
        try {
            root = Records.JSON.readTree(json);
        } catch (JacksonException e) {
            throw new ConfigException("not JSON (" + oneLine(e.getOriginalMessage()) + ")");
        }
        if (root == null || !root.isObject()) {
            throw new ConfigException("a declaration is a JSON object with \"spec\" (and optionally \"id\" and "
                    + "\"serial\")");
        }
        for (String f : root.propertyNames()) {
            if (!FIELDS.contains(f)) {
                throw new ConfigException("unknown field \"" + f + "\" (a declaration has \"spec\", \"id\" and "
                        + "\"serial\")");
            }
        }
        JsonNode specNode = root.get("spec");
        if (specNode == null || !specNode.isObject()) {
            throw new ConfigException("\"spec\" must be an object: the device's spec as its record has it, e.g. "
                    + "{\"target\": {\"type\": \"loop\", \"file\": \"/srv/disk.img\"}}");
        }
        ObjectNode withDefaults = ((ObjectNode) specNode).deepCopy();
        withDefaults.putIfAbsent("depth", withDefaults.numberNode(DeviceSpec.DEFAULT_DEPTH));
        withDefaults.putIfAbsent("recovery", withDefaults.stringNode(DeviceSpec.Recovery.NONE.label()));
        withDefaults.putIfAbsent("metrics_address", withDefaults.stringNode(DeviceSpec.DEFAULT_METRICS_ADDRESS));
        JsonNode target = withDefaults.get("target");
        if (target == null || !target.isObject() || !target.has("type")) {
            throw new ConfigException("\"spec\" needs a \"target\" with its \"type\", e.g. {\"type\": \"null\", "
                    + "\"size\": 1073741824}");
        }
        DeviceSpec spec;
        try {
            spec = Records.JSON.treeToValue(withDefaults, DeviceSpec.class);
        } catch (JacksonException e) {
            throw new ConfigException("\"spec\" is not a device spec jublk can read (" + oneLine(e.getOriginalMessage())
                    + ")");
        }
        List<String> learned = learnedFields(spec.target());
        if (!learned.isEmpty()) {
            throw new ConfigException("\"spec\".\"target\" has " + String.join(", ", learned) + ": what jublk "
                    + "learns when it opens the target, which a device's record keeps and a declaration leaves out");
        }
        spec.check();
        Integer id = null;
        JsonNode idNode = root.get("id");
        if (idNode != null && !idNode.isNull()) {
            if (!idNode.isInt() || idNode.intValue() < 0 || idNode.intValue() >= (1 << 20)) {
                throw new ConfigException("\"id\" must be a device id between 0 and 1048575, not " + idNode);
            }
            id = idNode.intValue();
        }
        JsonNode serialNode = root.get("serial");
        String serial = serialNode == null || serialNode.isNull() ? Serial.forDeclaration(name)
                : Serial.parse(serialNode.isString() ? serialNode.asString() : serialNode.toString(), "\"serial\"");
        return new Declaration(checkName(name), id, serial, spec);
    }

    /** The fields where {@code target} differs from what a declaration may give of it. */
    private static List<String> learnedFields(TargetSpec target) {
        TargetSpec declared = target.declared();
        List<String> fields = new ArrayList<>();
        if (declared.equals(target)) {
            return fields;
        }
        JsonNode given = Records.JSON.valueToTree(target);
        JsonNode allowed = Records.JSON.valueToTree(declared);
        for (String f : given.propertyNames()) {
            if (!given.get(f).equals(allowed.get(f))) {
                fields.add("\"" + f + "\"");
            }
        }
        return fields;
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s+", " ").trim();
    }
}
