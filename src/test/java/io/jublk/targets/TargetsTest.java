package io.jublk.targets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jublk.record.DeviceSpec;
import io.jublk.record.Records;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import tools.jackson.core.JacksonException;

/** The registry of targets, and what the rest of jublk learns from it. */
class TargetsTest {
    static final LoopSpec OPENED_LOOP = new LoopSpec("/srv/a.img", null, "direct", false, false, false, "buffered", null,
            new BackingFile.Identity("/srv/a.img", 1, 2, 3, 4096, false), false);

    @Test
    void theRegistryHasNullLoopAndNbdUnderTheNamesRecordsCarry() {
        assertEquals(List.of("null", "loop", "nbd"), Targets.names());
        assertEquals(NbdSpec.TYPE, Targets.find("nbd").orElseThrow());
        assertEquals(NullSpec.TYPE, Targets.find("null").orElseThrow());
        assertEquals(LoopSpec.TYPE, Targets.find("loop").orElseThrow());
        assertTrue(Targets.find("ram").isEmpty());
        assertEquals(LoopSpec.TYPE, Targets.of(OPENED_LOOP));
        assertEquals(NullSpec.TYPE, Targets.of(new NullSpec(4096)));
    }

    @Test
    void aSpecOutsideTheRegistryIsNoTarget() {
        assertThrows(IllegalArgumentException.class, () -> Targets.of(new UnlistedSpec(4096, false)));
        // Nor can a record name one: it does not read, which `ublk list` shows and `recover` refuses.
        String json = Records.JSON.writeValueAsString(new DeviceSpec(OPENED_LOOP, 1, 128, null,
                DeviceSpec.Recovery.NONE, null, "127.0.0.1")).replace("\"type\":\"loop\"", "\"type\":\"ram\"");
        assertTrue(json.contains("\"ram\""), json);
        assertThrows(JacksonException.class, () -> Records.JSON.readValue(json, DeviceSpec.class));
    }

    @Test
    void eachTypeMakesFreshOptionsOfItsOwnSpec() {
        for (TargetType<?> t : Targets.ALL) {
            assertNotSame(t.options().get(), t.options().get(), t.name() + ": one set of options per parse");
            assertTrue(t.spec().isRecord(), t.name() + ": a spec is a record");
        }
        NullSpec.Options n = new NullSpec.Options();
        n.size = 1 << 20;
        assertEquals(new NullSpec(1 << 20), n.spec());
        LoopSpec.Options l = new LoopSpec.Options();
        l.file = Path.of("/srv/b.img");
        assertEquals(LoopSpec.of(Path.of("/srv/b.img"), null, BackingFile.Mode.DIRECT, false, false, null), l.spec());
    }

    @Test
    void everySpecIsWrittenWithItsTypesName() {
        for (TargetSpec spec : List.of(new NullSpec(1 << 30), OPENED_LOOP,
                new NbdSpec(null, "10.0.0.1", 10809, "disk", 2, 30, 1L << 30),
                new NbdSpec("/run/nbd.sock", null, 10809, "", null, 30, 1L << 30,
                        new NbdTls.Spec("/etc/pki/ca.pem", null, null, "nbd.example"), true))) {
            DeviceSpec d = new DeviceSpec(spec, 1, 128, null, DeviceSpec.Recovery.NONE, null, "127.0.0.1");
            String json = Records.JSON.writeValueAsString(d);
            assertTrue(json.startsWith("{\"target\":{\"type\":\"" + Targets.of(spec).name() + "\""), json);
            assertEquals(d, Records.JSON.readValue(json, DeviceSpec.class));
        }
    }

    @Test
    void listColumnsAndMetricLabelsComeFromTheTypes() {
        assertEquals(List.of("mode", "file", "remote", "export"), Targets.columns());
        assertEquals(Map.of("mode", "buffered", "file", "/srv/a.img"), OPENED_LOOP.describe(),
                "the mode actually served, the file as opened");
        Map<String, String> loop = new LinkedHashMap<>();
        loop.put("target", "loop");
        loop.put("mode", "buffered");
        assertEquals(loop, Targets.labels(OPENED_LOOP));
        Map<String, String> none = new LinkedHashMap<>();
        none.put("target", "null");
        none.put("mode", "none");
        assertEquals(none, Targets.labels(new NullSpec(1 << 30)), "the same label names for every target");
    }

    @Test
    void aTypesNamesAreWhatACommandLineAndJsonCanCarry() {
        assertThrows(IllegalArgumentException.class, () -> TargetType.of("Loop", NullSpec.class, NullSpec.Options::new));
        assertThrows(IllegalArgumentException.class, () -> TargetType.of("a b", NullSpec.class, NullSpec.Options::new));
        assertThrows(IllegalArgumentException.class, () -> NullSpec.TYPE.withColumns("File"));
        assertThrows(IllegalArgumentException.class, () -> NullSpec.TYPE.withLabels("a-b"));
        assertEquals(List.of("x"), NullSpec.TYPE.withColumns("x").columns());
    }

    @Test
    void loopZeroCopyLeftToTheKernelIsSettledAtAdd() {
        LoopSpec asked = LoopSpec.of(Path.of("/srv/c.img"), null, BackingFile.Mode.DIRECT, false, false, null);
        List<String> notices = new java.util.ArrayList<>();
        TargetSpec on = asked.settle(io.jublk.uapi.Ublk.UBLK_F_AUTO_BUF_REG, true, notices::add);
        assertEquals(io.jublk.uapi.Ublk.UBLK_F_AUTO_BUF_REG, on.deviceFlags(), "root's device, a kernel that offers it");
        assertEquals(List.of(), notices);
        assertEquals(Boolean.TRUE, ((LoopSpec) on).servedZeroCopy(), "the record says what was settled");
        assertEquals(asked, on.declared(), "a declaration keeps the choice open");

        TargetSpec user = asked.settle(io.jublk.uapi.Ublk.UBLK_F_AUTO_BUF_REG, false, notices::add);
        assertEquals(0, user.deviceFlags());
        assertEquals(List.of("zero copy is off: the kernel allows it only on root's devices; requests are copied "
                + "through the server"), notices);
        notices.clear();
        TargetSpec old = asked.settle(0, true, notices::add);
        assertEquals(0, old.deviceFlags());
        assertEquals(Boolean.FALSE, ((LoopSpec) old).servedZeroCopy());
        assertEquals(1, notices.size());
        assertEquals(true, notices.get(0).contains("lacks UBLK_F_AUTO_BUF_REG"), notices.get(0));

        notices.clear();
        LoopSpec copy = LoopSpec.of(Path.of("/srv/c.img"), null, BackingFile.Mode.DIRECT, false, false, false);
        assertEquals(copy, copy.settle(io.jublk.uapi.Ublk.UBLK_F_AUTO_BUF_REG, true, notices::add),
                "--no-zero-copy stays off, without a notice");
        assertEquals(List.of(), notices);
        assertEquals(on, on.settle(0, false, notices::add), "settled once, at add; a later settle changes nothing");
    }
}
