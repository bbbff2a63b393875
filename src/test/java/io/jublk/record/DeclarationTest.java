package io.jublk.record;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jublk.spi.ConfigException;
import io.jublk.targets.LoopSpec;
import io.jublk.targets.NullSpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Declared devices ({@code /etc/jublk/NAME.json}): what they say, what they leave to the defaults, what is refused. */
class DeclarationTest {
    @TempDir
    Path etc;

    static Declaration parse(String json) {
        return Declaration.parse("db", json.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void aShortDeclarationGetsTheDefaultsOfUblkAdd() throws IOException {
        Path img = Files.write(etc.resolve("db.img"), new byte[4096]);
        Declaration d = parse("{\"spec\": {\"target\": {\"type\": \"loop\", \"file\": \"" + img + "\"}}}");
        assertEquals("db", d.name());
        assertNull(d.id());
        assertEquals(new DeviceSpec(LoopSpec.of(img, null,
                io.jublk.targets.BackingFile.Mode.DIRECT, false, false, null), null,
                DeviceSpec.DEFAULT_DEPTH, null, DeviceSpec.Recovery.NONE, null, DeviceSpec.DEFAULT_METRICS_ADDRESS),
                d.spec());
        assertEquals(Serial.parse(d.serial(), "serial"), d.serial(), "a serial in canonical form");
        assertEquals(d.serial(), parse("{\"spec\": {\"target\": {\"type\": \"null\", \"size\": 4096}}}").serial(),
                "without a serial of its own, a name has the same one at every start");
        assertNotEquals(d.serial(), Declaration.parse("web", "{\"spec\": {\"target\": {\"type\": \"null\", \"size\": 4096}}}"
                .getBytes(StandardCharsets.UTF_8)).serial(), "and another name another one");
    }

    @Test
    void aFullDeclarationSaysEverythingARecordsSpecDoes() {
        Declaration d = parse("""
                {
                  "id" : 7,
                  "serial" : "0B9C4F2E-6D1A-4C3B-9A8E-2F7D5E1C0A34",
                  "spec" : {
                    "target" : { "type" : "null", "size" : 1073741824 },
                    "queues" : 2, "depth" : 64, "logical_block_size" : 4096, "recovery" : "reissue",
                    "metrics_port" : 9464, "metrics_address" : "0.0.0.0", "no_partition_scan" : true
                  }
                }""");
        assertEquals(7, d.id());
        assertEquals("0b9c4f2e-6d1a-4c3b-9a8e-2f7d5e1c0a34", d.serial(), "one serial, one link name: lower case");
        assertEquals(new DeviceSpec(new NullSpec(1L << 30), 2, 64, 4096, DeviceSpec.Recovery.REISSUE, 9464, "0.0.0.0",
                true), d.spec());
    }

    /** A spec copied from a running device's record carries what opening its file found: refused, with the fields. */
    @Test
    void whatARecordLearnedIsNotPartOfADeclaration() {
        String spec = new String(Records.JSON.writeValueAsBytes(RecordsTest.sample(3).spec()), StandardCharsets.UTF_8);
        ConfigException e = assertThrows(ConfigException.class, () -> parse("{\"spec\": " + spec + "}"));
        assertEquals("\"spec\".\"target\" has \"served_mode\", \"identity\", \"created\": what jublk learns when it "
                + "opens the target, which a device's record keeps and a declaration leaves out", e.getMessage());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            {                                                     | not JSON (
            []                                                    | a declaration is a JSON object with "spec"
            {"spec": {"target": {"type": "null", "size": 4096}}, "sreial": "x" } | unknown field "sreial"
            {"id": 3}                                             | "spec" must be an object
            {"spec": {"queues": 2}}                               | "spec" needs a "target" with its "type"
            {"spec": {"target": {"type": "ram", "size": 4096}}}   | "spec" is not a device spec jublk can read (
            {"spec": {"target": {"type": "null", "size": 4096}, "qeues": 2}} | "spec" is not a device spec jublk can read (
            {"spec": {"target": {"type": "null", "size": 4096}, "queues": 0}} | --queues must be between 1 and 4096, not 0
            {"spec": {"target": {"type": "null", "size": 4096}, "recovery": "often"}} | "spec" is not a device spec
            {"spec": {"target": {"type": "null"}}}                | --size must be greater than 0
            {"spec": {"target": {"type": "loop", "file": "/x.img", "mode": "fast"}}} | mode must be direct or buffered, not 'fast'
            {"spec": {"target": {"type": "null", "size": 4096}}, "id": -1} | "id" must be a device id between 0 and 1048575, not -1
            {"spec": {"target": {"type": "null", "size": 4096}}, "id": "3"} | "id" must be a device id between 0 and 1048575, not "3"
            {"spec": {"target": {"type": "null", "size": 4096}}, "serial": "1-2-3-4-5"} | "serial" must be a UUID
            """)
    void aBadDeclarationIsRefusedInOneLine(String json, String start) {
        ConfigException e = assertThrows(ConfigException.class, () -> parse(json));
        assertTrue(e.getMessage().startsWith(start), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
    }

    @Test
    void aDeclarationIsReadFromItsFileAndEveryRefusalNamesTheFile() throws IOException {
        Files.writeString(etc.resolve("db.json"), "{\"spec\": {\"target\": {\"type\": \"null\", \"size\": 4096}}}");
        assertEquals(new NullSpec(4096), Declaration.read(etc, "db").spec().target());
        Files.writeString(etc.resolve("bad.json"), "{\"spec\": {\"target\": {\"type\": \"null\", \"size\": 0}}}");
        ConfigException e = assertThrows(ConfigException.class, () -> Declaration.read(etc, "bad"));
        assertEquals(etc.resolve("bad.json") + ": --size must be greater than 0", e.getMessage());
        e = assertThrows(ConfigException.class, () -> Declaration.read(etc, "none"));
        assertEquals("no device is declared as none: " + etc.resolve("none.json") + " does not exist", e.getMessage());
        Path open = Files.writeString(etc.resolve("open.json"), "{\"spec\": {\"target\": {\"type\": \"null\", "
                + "\"size\": 4096}}}");
        Files.setPosixFilePermissions(open, java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-r--"));
        e = assertThrows(ConfigException.class, () -> Declaration.read(etc, "open"));
        assertTrue(e.getMessage().startsWith(open + " must belong to the user running jublk and be writable by "
                + "nobody else"), e.getMessage());
        for (String name : new String[] {"", "../db", "a/b", ".hidden", "x y", "a@b"}) {
            e = assertThrows(ConfigException.class, () -> Declaration.read(etc, name), name);
            assertTrue(e.getMessage().startsWith("a declared device's name is"), e.getMessage());
        }
    }
}
