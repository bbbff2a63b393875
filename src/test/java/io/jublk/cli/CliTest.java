package io.jublk.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.jublk.ctrl.UblkControl;
import io.jublk.daemon.DeviceDaemon;
import io.jublk.spi.ConfigException;
import io.jublk.spi.DeviceInfo;
import io.jublk.uapi.Ublk;
import io.jublk.record.DeviceSpec;
import io.jublk.targets.LoopSpec;
import io.jublk.targets.NullSpec;
import io.jublk.targets.Targets;
import io.jublk.targets.UnlistedSpec;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/**
 * Every command and option of `ublk` as a user types it, on any machine: what each option parses to, and that
 * every refusal is exactly one line on stderr, exit status 2, nothing on stdout. Commands run only as far as a
 * machine without ublk lets them ({@code /dev/ublk-control} absent: the preflight refuses in one line too).
 */
class CliTest {
    @TempDir
    Path tmp;

    /** What a run of {@code ublk ARGS} printed and returned. */
    record Run(int status, String out, String err) {}

    /** Runs {@code ublk args} in this JVM as {@link Main#main} does, with stdout and stderr captured. */
    static Run ublk(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream sysOut = System.out;
        PrintStream sysErr = System.err;
        PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
        PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8);
        int status;
        // Commands print both through picocli's writers and through System.out/err: both are caught.
        System.setOut(o);
        System.setErr(e);
        try {
            CommandLine cl = Main.commandLine(args);
            cl.setOut(new PrintWriter(o, true));
            cl.setErr(new PrintWriter(e, true));
            status = cl.execute(args);
        } finally {
            System.setOut(sysOut);
            System.setErr(sysErr);
        }
        return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** {@code ublk args} is refused with exactly {@code "ublk: " + message}, one line, status 2, no stdout. */
    static void refused(String message, String... args) {
        Run r = ublk(args);
        String cmd = "ublk " + String.join(" ", args);
        assertEquals("ublk: " + message + "\n", r.err(), cmd);
        assertEquals(2, r.status(), cmd);
        assertEquals("", r.out(), cmd);
    }

    /** Commands that get past their checks stop at the preflight on a machine without ublk. */
    static void reachesPreflight(String... args) {
        assumeFalse(UblkControl.available(), "this machine has ublk: the command would really run");
        refused(Errors.NO_UBLK, args);
    }

    /** The device spec `ublk add ARGS` asks the daemon for, parsed and checked without running anything. */
    static DeviceSpec addSpec(String... args) {
        CommandLine.ParseResult p = Main.commandLine(args).parseArgs(args);
        DeviceSpec spec = ((AddTargetCommand) p.subcommand().subcommand().commandSpec().userObject()).deviceSpec();
        spec.check();
        return spec;
    }

    static CommonOptions addCommon(String... args) {
        CommandLine.ParseResult p = Main.commandLine(args).parseArgs(args);
        return ((AddTargetCommand) p.subcommand().subcommand().commandSpec().userObject()).common;
    }

    static <T> T command(Class<T> type, String... args) {
        CommandLine.ParseResult p = Main.commandLine(args).parseArgs(args);
        return type.cast(p.subcommand().commandSpec().userObject());
    }

    // ---- ublk, --help, --version --------------------------------------------------------------------------------

    @Test
    void noCommandOrAnUnknownOneIsRefused() {
        refused("missing command: add, del, list, features, recover, resize or up (ublk --help)");
        refused("Unmatched argument at index 0: 'nosuch'", "nosuch");
        refused("Unknown option: '--bogus'", "--bogus");
    }

    /** `ublk up` reads the declaration before anything else: a bad name is one line, with or without ublk. */
    @Test
    void upNeedsTheNameOfADeclaration() {
        refused("Missing required parameter: 'NAME'", "up");
        refused("a declared device's name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit, "
                + "not '../db'", "up", "../db");
    }

    @Test
    void aSerialIsAUuid() {
        Run r = ublk("add", "null", "--size", "1M", "--serial", "db-1");
        assertEquals(2, r.status());
        assertTrue(r.err().startsWith("ublk: --serial must be a UUID (8-4-4-4-12 hex digits, e.g. "), r.err());
        assertEquals("0b9c4f2e-6d1a-4c3b-9a8e-2f7d5e1c0a34",
                addCommon("add", "null", "--size", "1G", "--serial", "0B9C4F2E-6D1A-4C3B-9A8E-2F7D5E1C0A34").serial());
    }

    @ParameterizedTest
    @ValueSource(strings = {"--help", "-h"})
    void helpListsTheCommandsButNotTheHiddenOnes(String help) {
        Run r = ublk(help);
        assertEquals(0, r.status());
        assertEquals("", r.err());
        assertTrue(r.out().startsWith("Usage: ublk "), r.out());
        for (String c : List.of("add", "del", "list", "features", "recover")) {
            assertTrue(r.out().contains("\n  " + c + " "), c + " in\n" + r.out());
        }
        assertFalse(r.out().contains("__"), "hidden commands stay hidden:\n" + r.out());
    }

    @ParameterizedTest
    @ValueSource(strings = {"--version", "-V", "add --version", "add null -V", "add loop --version", "del -V",
        "list -V", "features -V", "recover -V"})
    void versionIsOneLineAnywhere(String args) {
        Run r = ublk(args.split(" "));
        assertEquals(0, r.status());
        assertEquals("", r.err());
        assertTrue(r.out().matches("jublk \\S+ \\(Java [^)]+\\)\n"), r.out());
    }

    @ParameterizedTest
    @ValueSource(strings = {"add", "add null", "add loop", "del", "list", "features", "recover"})
    void everyCommandHasHelp(String command) {
        for (String help : List.of("--help", "-h")) {
            String[] args = (command + " " + help).split(" ");
            Run r = ublk(args);
            assertEquals(0, r.status(), command);
            assertEquals("", r.err(), command);
            assertTrue(r.out().startsWith("Usage: ublk " + command + " "), r.out());
        }
    }

    @Test
    void helpNamesEveryOption() {
        assertHelpHas("add null", "--size=SIZE", "-n, --number=ID", "-q, --queues=N", "-d, --depth=N",
                "--logical-block-size=BYTES", "--recovery[=MODE]", "--foreground", "--metrics-port=PORT",
                "--metrics-address=ADDR");
        assertHelpHas("add loop", "--file=PATH", "--size=SIZE", "--direct", "--buffered", "--read-only",
                "--zero-copy", "--allow-shared", "-n, --number=ID", "-q, --queues=N", "-d, --depth=N",
                "--logical-block-size=BYTES", "--recovery[=MODE]", "--foreground", "--metrics-port=PORT",
                "--metrics-address=ADDR", "[--direct | --buffered]");
        assertHelpHas("add", "null ", "loop ");
        assertHelpHas("del", "(-n=ID | --all)", "--timeout=SECONDS");
        assertHelpHas("list", "-n, --number=ID", "--json");
        assertHelpHas("features", "--json");
        assertHelpHas("recover", "-n, --number=ID", "--foreground");
    }

    @Test
    void addHelpDescribesEveryTarget() {
        String out = ublk("add", "--help").out();
        assertTrue(out.contains("null  A device that completes every request at once"), out);
        assertTrue(out.contains("loop  Serve a file or block device as a block device"), out);
        assertTrue(ublk("add", "null", "--help").out().contains("\nA device that completes every request at once"));
    }

    /**
     * `ublk` builds only the command a command line names (its start-up: see {@link Main.Commands}); that model must
     * say exactly what the whole one says, for every command and every target of `ublk add`.
     */
    @Test
    void theModelOfOneCommandIsThatCommandOfTheWholeOne() {
        CommandLine whole = Main.commandLine();
        assertEquals(List.of("list"), List.copyOf(Main.commandLine("list", "--json").getSubcommands().keySet()));
        assertEquals(List.of("null"), List.copyOf(Main.commandLine("add", "null", "--size", "1G").getSubcommands()
                .get("add").getSubcommands().keySet()));
        assertEquals(List.of(), List.copyOf(Main.commandLine("--version").getSubcommands().keySet()));
        assertEquals(List.copyOf(whole.getSubcommands().keySet()),
                List.copyOf(Main.commandLine("--help").getSubcommands().keySet()));
        assertEquals(whole.getUsageMessage(), Main.commandLine("--help").getUsageMessage());
        for (var c : whole.getSubcommands().entrySet()) {
            CommandLine one = Main.commandLine(c.getKey(), "--help").getSubcommands().get(c.getKey());
            assertEquals(c.getValue().getUsageMessage(), one.getUsageMessage(), c.getKey());
            for (var t : c.getValue().getSubcommands().entrySet()) {
                CommandLine target = Main.commandLine(c.getKey(), t.getKey(), "--help").getSubcommands()
                        .get(c.getKey()).getSubcommands().get(t.getKey());
                assertEquals(t.getValue().getUsageMessage(), target.getUsageMessage(), c.getKey() + " " + t.getKey());
            }
        }
    }

    /** All `ublk add NAME` needs of a target is its type: options, description, the spec they make. */
    @Test
    void aTargetsTypeIsAllItsAddCommandNeeds() {
        CommandLine add = AddTargetCommand.of(UnlistedSpec.TYPE);
        add.parseArgs("--size", "1M", "--zeroed", "-q", "2");
        DeviceSpec s = ((AddTargetCommand) add.getCommand()).deviceSpec();
        assertEquals(new UnlistedSpec(1 << 20, true), s.target());
        assertEquals(2, s.queues());
        assertTrue(add.getUsageMessage().contains("Memory that is in no registry."), add.getUsageMessage());
        assertTrue(add.getUsageMessage().contains("--zeroed"), add.getUsageMessage());
    }

    @Test
    void targetColumnsDoNotShadowListsOwnFields() {
        List<String> own = List.of("id", "state", "owner", "server", "target", "queues", "depth", "size",
                "logical_block_size", "block", "char", "pid", "name", "serial", "recovery", "zero_copy", "flags", "log");
        assertTrue(own.containsAll(ListCommand.COLUMNS), "the table shows fields of the JSON");
        assertTrue(own.containsAll(ListCommand.IDENTITY), "the table shows fields of the JSON");
        for (String c : Targets.columns()) {
            assertFalse(own.contains(c), c + " is a field of `ublk list` itself");
        }
    }

    private static void assertHelpHas(String command, String... parts) {
        String[] args = (command + " --help").split(" ");
        String out = ublk(args).out();
        for (String p : parts) {
            assertTrue(out.contains(p), p + " in the help of " + command + ":\n" + out);
        }
    }

    // ---- add ----------------------------------------------------------------------------------------------------

    /** udev hands it its %k: anything but a ublk node's kernel name is refused before a node is touched. */
    @ParameterizedTest
    @ValueSource(strings = {"sda", "ublkc", "ublkcx", "ublkc1p1", "ublk-control", "../ublkb1", "ublkb1/x", "ublkb12345678"})
    void theUdevHelperTakesOnlyUblkNodeNames(String name) {
        refused("'" + name + "' is not the kernel name of a ublk node (ublkcN, ublkbN, ublkbNpM)", "__udev-owner", name);
    }

    @Test
    void addWithoutATargetOrWithAnUnknownOneIsRefused() {
        refused("missing target: ublk add null --size SIZE, or ublk add loop --file PATH, or ublk add nbd (--socket PATH | --host HOST)", "add");
        refused("unknown target 'nosuch': ublk add null|loop|nbd (ublk add --help)", "add", "nosuch", "--size", "1G");
        refused("unknown target 'ram': ublk add null|loop|nbd (ublk add --help)", "add", "ram");
        // Whatever follows `add` is taken for a target's name.
        refused("unknown target '--size': ublk add null|loop|nbd (ublk add --help)", "add", "--size", "1G");
    }

    @Test
    void addNullTakesEveryCommonOption() {
        DeviceSpec s = addSpec("add", "null", "--size", "1G");
        assertEquals(new NullSpec(1L << 30), s.target());
        assertNull(s.queues(), "the server's default (one per CPU, at most two; nbd as its server allows)");
        assertEquals(128, s.depth());
        assertNull(s.logicalBlockSize());
        assertEquals(DeviceSpec.Recovery.NONE, s.recovery());
        assertNull(s.metricsPort());
        assertEquals("127.0.0.1", s.metricsAddress());

        s = addSpec("add", "null", "--size", "64M", "-q", "4", "-d", "256", "--logical-block-size", "4096",
                "--recovery", "--metrics-port", "9464", "--metrics-address", "0.0.0.0");
        assertEquals(new NullSpec(64L << 20), s.target());
        assertEquals(4, s.queues());
        assertEquals(256, s.depth());
        assertEquals(4096, s.logicalBlockSize());
        assertEquals(DeviceSpec.Recovery.DEFAULT, s.recovery(), "--recovery alone is 'default'");
        assertEquals(9464, s.metricsPort());
        assertEquals("0.0.0.0", s.metricsAddress());

        s = addSpec("add", "null", "--size=2T", "--queues=4096", "--depth=1", "--recovery=reissue");
        assertEquals(new NullSpec(2L << 40), s.target());
        assertEquals(4096, s.queues());
        assertEquals(1, s.depth());
        assertEquals(DeviceSpec.Recovery.REISSUE, s.recovery());
        assertEquals(DeviceSpec.Recovery.FAIL_IO, addSpec("add", "null", "--size", "1G", "--recovery=fail-io")
                .recovery());
        assertEquals(DeviceSpec.Recovery.DEFAULT, addSpec("add", "null", "--size", "1G", "--recovery", "default")
                .recovery());
    }

    @Test
    void addTakesAnIdAndForeground() {
        CommonOptions c = addCommon("add", "null", "--size", "1G", "-n", "7", "--foreground");
        assertEquals(7, c.id);
        assertTrue(c.foreground);
        c = addCommon("add", "loop", "--file", "/x", "--number=1048575");
        assertEquals(1048575, c.id);
        assertFalse(c.foreground);
        assertNull(addCommon("add", "null", "--size", "1G").id, "no -n: the lowest free id");
    }

    @ParameterizedTest
    @ValueSource(strings = {"512", "4096", "4k", "4K", "4KB", "4KiB", "1m", "1MiB", "3G", "1T", " 3G "})
    void sizesTakeSuffixesInPowersOf1024(String size) {
        long expected = switch (size.trim().toUpperCase(java.util.Locale.ROOT).replaceAll("I?B$", "")) {
            case "512" -> 512;
            case "4096", "4K" -> 4096;
            case "1M" -> 1 << 20;
            case "3G" -> 3L << 30;
            case "1T" -> 1L << 40;
            default -> throw new AssertionError(size);
        };
        assertEquals(new NullSpec(expected), addSpec("add", "null", "--size", size).target());
    }

    @Test
    void badSizesAreRefused() {
        refused("Invalid value for option '--size': 'lots' is not a size (e.g. 512M, 1G, 4096)",
                "add", "null", "--size", "lots");
        refused("Invalid value for option '--size': '1X' is not a size (e.g. 512M, 1G, 4096)",
                "add", "null", "--size", "1X");
        refused("Invalid value for option '--size': '' is not a size (e.g. 512M, 1G, 4096)", "add", "null", "--size=");
        refused("Invalid value for option '--size': 'K' is not a size (e.g. 512M, 1G, 4096)", "add", "null", "--size=K");
        refused("Invalid value for option '--size': '-1' is not a valid size", "add", "null", "--size", "-1");
        refused("Invalid value for option '--size': '99999999999T' is not a valid size",
                "add", "null", "--size", "99999999999T");
        refused("--size must be greater than 0", "add", "null", "--size", "0");
        refused("--size 1000 is not a multiple of the logical block size 512", "add", "null", "--size", "1000");
        refused("--size 6144 is not a multiple of the logical block size 4096",
                "add", "null", "--size", "6K", "--logical-block-size", "4096");
        refused("Invalid value for option '--size': 'big' is not a size (e.g. 512M, 1G, 4096)",
                "add", "loop", "--file", tmp.resolve("a.img").toString(), "--size", "big");
        refused("--size 1000 is not a multiple of the logical block size 512",
                "add", "loop", "--file", tmp.resolve("a.img").toString(), "--size", "1000");
        assertFalse(Files.exists(tmp.resolve("a.img")), "a refused add creates nothing");
    }

    @Test
    void badCommonOptionsAreRefused() {
        refused("Missing required option: '--size=SIZE'", "add", "null");
        refused("Missing required option: '--size=SIZE'", "add", "null", "-q", "2");
        refused("option '--size' (SIZE) should be specified only once", "add", "null", "--size", "1G", "--size", "2G");
        refused("--queues must be between 1 and 4096, not 0", "add", "null", "--size", "1G", "-q", "0");
        refused("--queues must be between 1 and 4096, not 4097", "add", "null", "--size", "1G", "--queues", "4097");
        refused("--depth must be between 1 and 4096, not 0", "add", "null", "--size", "1G", "-d", "0");
        refused("--depth must be between 1 and 4096, not 5000", "add", "null", "--size", "1G", "-d", "5000");
        refused("Invalid value for option '--depth': 'deep' is not an int", "add", "null", "--size", "1G", "-d", "deep");
        refused("--logical-block-size must be 512 or 4096, not 1024",
                "add", "null", "--size", "1G", "--logical-block-size", "1024");
        refused("device id must be between 0 and 1048575, not -1", "add", "null", "--size", "1G", "-n", "-1");
        refused("device id must be between 0 and 1048575, not 1048576",
                "add", "null", "--size", "1G", "-n", "1048576");
        refused("Invalid value for option '--number': 'abc' is not an int", "add", "null", "--size", "1G", "-n", "abc");
        refused("--metrics-port must be between 1 and 65535, not 0",
                "add", "null", "--size", "1G", "--metrics-port", "0");
        refused("--metrics-port must be between 1 and 65535, not 70000",
                "add", "null", "--size", "1G", "--metrics-port", "70000");
        refused("--recovery must be default, reissue or fail-io, not 'bogus'",
                "add", "null", "--size", "1G", "--recovery", "bogus");
        refused("Unknown option: '--bogus'", "add", "null", "--size", "1G", "--bogus");
        refused("Unmatched argument at index 4: 'extra'", "add", "null", "--size", "1G", "extra");
        refused("Missing required option: '--size=SIZE'", "add", "null", "--file", "/x");
    }

    @Test
    void addLoopTakesEveryOption() throws IOException {
        Path f = tmp.resolve("disk.img");
        LoopSpec l = (LoopSpec) addSpec("add", "loop", "--file", f.toString(), "--size", "64M").target();
        assertEquals(LoopSpec.of(f, 64L << 20, io.jublk.targets.BackingFile.Mode.DIRECT, false, false, null), l);
        assertEquals(0, addSpec("add", "loop", "--file", f.toString(), "--size", "64M").deviceFlags(),
                "zero copy by default is settled by the server, from the kernel's features");
        assertEquals(Boolean.FALSE, ((LoopSpec) addSpec("add", "loop", "--file", f.toString(), "--size", "64M", "--no-zero-copy")
                .target()).zeroCopy());
        assertEquals("direct", l.mode(), "O_DIRECT by default");
        assertFalse(Files.exists(f), "parsing and checking create nothing");

        Files.write(f, new byte[1 << 20]);
        l = (LoopSpec) addSpec("add", "loop", "--file", f.toString(), "--buffered", "--read-only", "--zero-copy",
                "--allow-shared").target();
        assertEquals(new LoopSpec(f.toString(), null, "buffered", true, true, true, null, null, null, false), l);
        assertEquals("direct", ((LoopSpec) addSpec("add", "loop", "--file", f.toString(), "--direct").target()).mode());
        assertEquals(io.jublk.uapi.Ublk.UBLK_F_AUTO_BUF_REG,
                addSpec("add", "loop", "--file", f.toString(), "--zero-copy").deviceFlags());
        assertEquals(0, addSpec("add", "loop", "--file", f.toString()).deviceFlags());
    }

    @Test
    void aRelativeLoopFileIsRecordedAbsolute() {
        LoopSpec l = (LoopSpec) addSpec("add", "loop", "--file", "rel.img", "--size", "1M").target();
        assertEquals(Path.of("rel.img").toAbsolutePath().toString(), l.file());
    }

    @Test
    void badLoopOptionsAreRefused() throws IOException {
        String f = tmp.resolve("x.img").toString();
        refused("Missing required option: '--file=PATH'", "add", "loop");
        refused("Missing required option: '--file=PATH'", "add", "loop", "--size", "1G");
        refused("Error: --direct, --buffered are mutually exclusive (specify only one)",
                "add", "loop", "--file", f, "--direct", "--buffered");
        refused(f + " does not exist (give --size to create it)", "add", "loop", "--file", f);
        refused(tmp + " is a directory, not a file or block device", "add", "loop", "--file", tmp.toString(),
                "--size", "1G");
        refused("/dev/null is a character device, not a file or block device", "add", "loop", "--file", "/dev/null");
        refused("Unknown options: '--sizes', '1G'", "add", "loop", "--file", f, "--sizes", "1G");
        refused("Missing required parameter for option '--file' (PATH)", "add", "loop", "--file");
        assertFalse(Files.exists(Path.of(f)));
    }

    @Test
    void aGoodAddStopsAtThePreflightHereAndCreatesNothing() {
        reachesPreflight("add", "null", "--size", "1G");
        reachesPreflight("add", "null", "--size", "1G", "--recovery");
        Path f = tmp.resolve("new.img");
        reachesPreflight("add", "loop", "--file", f.toString(), "--size", "16M", "--zero-copy");
        assertFalse(Files.exists(f), "the daemon creates the file, not the command");
    }

    // ---- del, list, features, recover ---------------------------------------------------------------------------

    @Test
    void delTakesAnIdOrAllAndATimeout() {
        DelCommand d = command(DelCommand.class, "del", "-n", "3");
        assertEquals(3, d.which.id);
        assertFalse(d.which.all);
        assertEquals(60, d.timeout);
        d = command(DelCommand.class, "del", "--all", "--timeout", "5");
        assertTrue(d.which.all);
        assertNull(d.which.id);
        assertEquals(5, d.timeout);
        d = command(DelCommand.class, "del", "--number=0", "--timeout=0");
        assertEquals(0, d.which.id);
        assertEquals(0, d.timeout);
    }

    @Test
    void badDelsAreRefused() {
        refused("Error: Missing required argument (specify one of these): (-n=ID | --all)", "del");
        refused("Error: Missing required argument (specify one of these): (-n=ID | --all)", "del", "--timeout", "5");
        refused("Error: --number=ID, --all are mutually exclusive (specify only one)", "del", "-n", "1", "--all");
        refused("Invalid value for option '--number': 'abc' is not an int", "del", "-n", "abc");
        refused("Invalid value for option '--timeout': 'soon' is not an int", "del", "--all", "--timeout", "soon");
        refused("Unmatched argument at index 3: '4'", "del", "-n", "3", "4");
    }

    @Test
    void goodDelsStopAtThePreflightHere() {
        reachesPreflight("del", "-n", "1");
        reachesPreflight("del", "--all");
        reachesPreflight("del", "--all", "--timeout", "1");
        reachesPreflight("del", "--safe", "-n", "1");
        assertTrue(command(DelCommand.class, "del", "--safe", "-n", "2").safe);
        assertFalse(command(DelCommand.class, "del", "-n", "2").safe);
    }

    // ---- resize -------------------------------------------------------------------------------------------------

    @Test
    void resizeTakesAnIdASizeAndForce() {
        ResizeCommand r = command(ResizeCommand.class, "resize", "-n", "3", "--size", "2G");
        assertEquals(3, r.id);
        assertEquals(2L << 30, r.size);
        assertFalse(r.force);
        assertTrue(command(ResizeCommand.class, "resize", "-n", "3", "--size", "1M", "--force").force);
        reachesPreflight("resize", "-n", "3", "--size", "1G");
        reachesPreflight("resize", "-n", "3", "--size", "1G", "--force");
    }

    @Test
    void badResizesAreRefused() {
        refused("Missing required options: '--number=ID', '--size=SIZE'", "resize");
        refused("Missing required option: '--size=SIZE'", "resize", "-n", "1");
        refused("Missing required option: '--number=ID'", "resize", "--size", "1G");
        refused("--size must be greater than 0", "resize", "-n", "1", "--size", "0");
        refused("Invalid value for option '--size': 'lots' is not a size (e.g. 512M, 1G, 4096)", "resize", "-n", "1",
                "--size", "lots");
    }

    // ---- upgrade ------------------------------------------------------------------------------------------------

    @Test
    void upgradeTakesAnIdAndAJar() throws IOException {
        UpgradeCommand u = command(UpgradeCommand.class, "upgrade", "-n", "2");
        assertEquals(2, u.id);
        assertNull(u.jar);
        Path jar = Files.createFile(tmp.resolve("next.jar"));
        assertEquals(jar, command(UpgradeCommand.class, "upgrade", "-n", "2", "--jar", jar.toString()).jar);
        assertHelpHas("upgrade", "-n, --number=ID", "--jar=PATH");
        reachesPreflight("upgrade", "-n", "2");
        reachesPreflight("upgrade", "--number=2", "--jar", jar.toString());
    }

    @Test
    void badUpgradesAreRefused() {
        refused("Missing required option: '--number=ID'", "upgrade");
        refused("Invalid value for option '--number': 'x' is not an int", "upgrade", "-n", "x");
        String none = tmp.resolve("none.jar").toString();
        refused("--jar " + none + " is not a readable file", "upgrade", "-n", "1", "--jar", none);
        refused("--jar " + tmp + " is not a readable file", "upgrade", "-n", "1", "--jar", tmp.toString());
    }

    @Test
    void aDeviceChangesServersLiveOnlyWithQuiesceAndRecoveryThatQueues() {
        long quiesce = Ublk.UBLK_F_QUIESCE;
        long recovery = Ublk.UBLK_F_USER_RECOVERY;
        assertNull(DeviceDaemon.whyNotUpgradable(info(recovery | quiesce)));
        assertNull(DeviceDaemon.whyNotUpgradable(info(recovery | Ublk.UBLK_F_USER_RECOVERY_REISSUE | quiesce)));
        assertTrue(DeviceDaemon.whyNotUpgradable(info(0)).contains("not added with --recovery"));
        assertTrue(DeviceDaemon.whyNotUpgradable(info(recovery | Ublk.UBLK_F_USER_RECOVERY_FAIL_IO | quiesce))
                .contains("--recovery=fail-io"));
        assertTrue(DeviceDaemon.whyNotUpgradable(info(recovery)).contains("without UBLK_F_QUIESCE"));
    }

    private static DeviceInfo info(long flags) {
        return new DeviceInfo(7, 1, 128, Ublk.UBLK_S_DEV_LIVE, 24, 512 << 10, 100, flags, 0, 0, 0);
    }

    @Test
    void addTakesNoPartitionScan() {
        assertTrue(addSpec("add", "null", "--size", "1G", "--no-partition-scan").noPartitionScan());
        assertFalse(addSpec("add", "null", "--size", "1G").noPartitionScan());
        assertEquals(io.jublk.uapi.Ublk.UBLK_F_NO_AUTO_PART_SCAN,
                addSpec("add", "null", "--size", "1G", "--no-partition-scan").deviceFlags());
    }

    @Test
    void addTakesBatch() {
        assertTrue(addSpec("add", "null", "--size", "1G", "--batch").batch());
        assertFalse(addSpec("add", "null", "--size", "1G").batch());
        assertEquals(io.jublk.uapi.Ublk.UBLK_F_BATCH_IO, addSpec("add", "null", "--size", "1G", "--batch").deviceFlags());
        assertEquals(io.jublk.uapi.Ublk.UBLK_F_BATCH_IO | io.jublk.uapi.Ublk.UBLK_F_AUTO_BUF_REG,
                addSpec("add", "loop", "--file", tmp.resolve("b.img").toString(), "--size", "1G", "--zero-copy",
                        "--batch").deviceFlags());
    }

    @Test
    void addNbdTakesZeroCopyWhereTheKernelsSocketsTakeFixedBuffers() {
        assertEquals(0, addSpec("add", "nbd", "--socket", "/run/nbd.sock").deviceFlags());
        boolean fixed;
        try (io.jublk.uring.IoUring ring = io.jublk.uring.IoUring.open(4)) {
            fixed = ring.socketsTakeFixedBuffers();
        }
        if (fixed) { // 7.3 (the VM)
            assertEquals(io.jublk.uapi.Ublk.UBLK_F_AUTO_BUF_REG | io.jublk.uapi.Ublk.UBLK_F_USER_COPY,
                    addSpec("add", "nbd", "--socket", "/run/nbd.sock", "--zero-copy").deviceFlags());
        } else { // the host's 6.18: refused at add, in one line, before anything is made
            ConfigException e = assertThrows(ConfigException.class,
                    () -> addSpec("add", "nbd", "--socket", "/run/nbd.sock", "--zero-copy"));
            assertTrue(e.getMessage().contains("Linux 7.3 or newer"), e.getMessage());
        }
    }

    @Test
    void listTakesAnIdAndJson() {
        ListCommand l = command(ListCommand.class, "list");
        assertNull(l.id);
        assertFalse(l.json);
        l = command(ListCommand.class, "list", "-n", "5", "--json");
        assertEquals(5, l.id);
        assertTrue(l.json);
        refused("Unknown option: '--bogus'", "list", "--bogus");
        refused("Invalid value for option '--number': 'x' is not an int", "list", "-n", "x");
        reachesPreflight("list");
        reachesPreflight("list", "-n", "3", "--json");
        assertNull(command(ListCommand.class, "list").watch);
        assertEquals(2, command(ListCommand.class, "list", "--watch").watch);
        assertEquals(5, command(ListCommand.class, "list", "--watch", "5").watch);
        refused("--watch takes whole seconds, at least 1, not 0", "list", "--watch", "0");
        refused("--watch prints a table; --json is for one look", "list", "--watch", "--json");
        assertEquals(3, command(ListCommand.class, "list", "--watch", "1", "--count", "3").count);
        refused("--count goes with --watch", "list", "--count", "3");
        refused("--count takes a number of tables, at least 1, not 0", "list", "--watch", "--count", "0");
        reachesPreflight("list", "--watch=3");
    }

    @Test
    void featuresTakesJson() {
        assertFalse(command(FeaturesCommand.class, "features").json);
        assertTrue(command(FeaturesCommand.class, "features", "--json").json);
        refused("Unmatched argument at index 1: 'x'", "features", "x");
        reachesPreflight("features");
        reachesPreflight("features", "--json");
    }

    @Test
    void recoverTakesAnIdAndForeground() {
        RecoverCommand r = command(RecoverCommand.class, "recover", "-n", "2");
        assertEquals(2, r.id);
        assertFalse(r.foreground);
        assertTrue(command(RecoverCommand.class, "recover", "--number", "2", "--foreground").foreground);
        refused("Missing required option: '--number=ID'", "recover");
        refused("Missing required option: '--number=ID'", "recover", "--foreground");
        refused("Invalid value for option '--number': 'x' is not an int", "recover", "-n", "x");
        reachesPreflight("recover", "-n", "1");
    }
}
