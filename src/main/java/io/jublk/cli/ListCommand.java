package io.jublk.cli;

import io.jublk.spi.DeviceInfo;
import io.jublk.spi.DeviceParams;
import io.jublk.ctrl.UblkControl;
import io.jublk.daemon.Cleanup;
import io.jublk.daemon.Control;
import io.jublk.daemon.ControlClient;
import io.jublk.spi.ConfigException;
import io.jublk.record.DeviceLock;
import io.jublk.record.DeviceRecord;
import io.jublk.record.Records;
import io.jublk.record.RunDirectory;
import io.jublk.sys.NativeException;
import io.jublk.targets.Sizes;
import io.jublk.targets.Targets;
import io.jublk.uapi.Ublk;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * `ublk list`: every ublk device the kernel has, and every jublk record — including devices whose server is gone
 * and records of adds that never finished, which `ublk del` (or `del --all`) removes.
 */
@Command(name = "list", description = "List ublk devices: the kernel's view and, for jublk's, the target and "
        + "whether its server runs.")
final class ListCommand implements Callable<Integer> {
    @Option(names = {"-n", "--number"}, paramLabel = "ID", description = "Only this device.")
    Integer id;

    @Option(names = "--json", description = "Print a JSON array with stable field names.")
    boolean json;

    @Option(names = "--watch", paramLabel = "SECONDS", arity = "0..1", fallbackValue = "2",
            description = "Print the table again every SECONDS (default 2) with each served device's requests, "
                    + "MiB and errors per second over that time, until interrupted.")
    Integer watch;

    @Option(names = "--count", paramLabel = "N",
            description = "With --watch: stop after N tables (the first has no rates yet), as iostat's count does.")
    Integer count;

    @Override
    public Integer call() throws InterruptedException {
        if (watch != null && watch < 1) {
            throw new Errors.UserError("--watch takes whole seconds, at least 1, not " + watch);
        }
        if (count != null && (watch == null || count < 1)) {
            throw new Errors.UserError(watch == null ? "--count goes with --watch"
                    : "--count takes a number of tables, at least 1, not " + count);
        }
        if (watch != null && json) {
            throw new Errors.UserError("--watch prints a table; --json is for one look");
        }
        Preflight.requireUblk();
        RunDirectory run = RunDirectory.get();
        if (run.exists()) {
            run.check();
        }
        if (watch != null) {
            watch(run);
            return 0;
        }
        List<Map<String, Object>> rows = rows(run);
        if (json) {
            System.out.println(Records.JSON.writeValueAsString(rows));
        } else {
            print(rows, IO_TOTALS);
        }
        return 0;
    }

    /** Each {@code watch} seconds: the table, with rates from the counters' change since the last look. */
    private void watch(RunDirectory run) throws InterruptedException {
        Map<Object, Control.Counters> before = new java.util.HashMap<>();
        for (int shown = 0; count == null || shown < count; shown++) {
            List<Map<String, Object>> rows = rows(run);
            for (Map<String, Object> r : rows) {
                Control.Counters now = (Control.Counters) r.remove(COUNTERS);
                Control.Counters then = before.get(r.get("id"));
                if (now != null && then != null && now.nanos() > then.nanos()) {
                    double s = (now.nanos() - then.nanos()) / 1e9;
                    r.put("iops", String.format("%.0f", (requests(now) - requests(then)) / s));
                    r.put("mib/s", String.format("%.1f", (now.bytesRead() + now.bytesWritten() - then.bytesRead()
                            - then.bytesWritten()) / s / (1 << 20)));
                    r.put("err/s", String.format("%.0f", (now.failed() - then.failed()) / s));
                }
                if (now != null) {
                    before.put(r.get("id"), now);
                }
            }
            System.out.println(java.time.LocalTime.now().withNano(0) + "  (every " + watch + " s; Ctrl-C ends)");
            print(rows, IO_RATES);
            System.out.println();
            System.out.flush();
            if (count == null || shown + 1 < count) {
                Thread.sleep(watch * 1000L);
            }
        }
    }

    private static long requests(Control.Counters c) {
        return c.reads() + c.writes() + c.flushes() + c.discards() + c.writeZeroes();
    }

    /** The rows, each with its server's counters (under {@link #COUNTERS}) where one answers. */
    private List<Map<String, Object>> rows(RunDirectory run) {
        List<Map<String, Object>> rows = new ArrayList<>();
        try (UblkControl ctrl = UblkControl.open()) {
            TreeSet<Integer> ids = new TreeSet<>(UblkControl.listDeviceIds());
            ids.addAll(run.recordIds());
            if (id != null) {
                ids.retainAll(List.of(id));
            }
            for (int i : ids) {
                row(run, ctrl, i).ifPresent(rows::add);
            }
        }
        if (id != null && rows.isEmpty()) {
            throw new Errors.UserError("device " + id + " does not exist");
        }
        return rows;
    }

    static Optional<Map<String, Object>> row(RunDirectory run, UblkControl ctrl, int id) {
        Optional<DeviceInfo> info = Cleanup.info(ctrl, id);
        Optional<DeviceRecord> rec;
        try {
            rec = Records.read(run, id);
        } catch (ConfigException e) {
            rec = Optional.empty();
        }
        if (info.isEmpty() && rec.isEmpty()) {
            return Optional.empty();
        }
        DeviceRecord r = rec.orElse(null);
        boolean tokenMatches = info.isPresent() && r != null && info.get().ublksrvFlags() == r.tokenValue();
        boolean jublk = tokenMatches || (info.isPresent() && r == null && Cleanup.isJublk(info.get()));
        if (info.isPresent() && !tokenMatches) {
            r = null; // a record of another device that had this id describes nothing here
        }
        DeviceParams params = info.isPresent() ? params(ctrl, id) : null;
        boolean served = jublk || r != null ? DeviceLock.isHeld(run, id) : false;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("state", info.map(DeviceInfo::stateName).orElse(r != null ? "no device (" + r.state().label() + ")" : "-"));
        m.put("owner", jublk || rec.isPresent() ? "jublk" : "other");
        m.put("server", jublk || r != null ? (served ? "running" : "gone") : null);
        m.put("target", r != null ? Targets.of(r.spec().target()).name() : "-");
        m.put("queues", info.map(DeviceInfo::nrHwQueues).orElse(null));
        m.put("depth", info.map(DeviceInfo::queueDepth).orElse(null));
        m.put("size", params != null ? params.sizeBytes() : null);
        m.put("logical_block_size", params != null ? params.logicalBlockSize() : null);
        String block = "/dev/ublkb" + id;
        m.put("block", Files.exists(Path.of(block)) ? block : null);
        m.put("char", info.map(DeviceInfo::charDevice).orElse(null));
        Integer pid = info.map(DeviceInfo::ublksrvPid).filter(p -> p > 0).orElse(null);
        if (pid == null && r != null && served && r.server().running()) {
            pid = r.server().pid();
        }
        m.put("pid", pid);
        Map<String, String> facts = r != null ? r.spec().target().describe() : Map.of();
        for (String c : Targets.columns()) {
            m.put(c, facts.get(c));
        }
        m.put("name", r != null ? r.name() : null);
        m.put("serial", r != null ? r.serial() : null);
        m.put("recovery", r != null ? r.spec().recovery().label() : null);
        m.put("zero_copy", info.map(i -> i.has(Ublk.UBLK_F_AUTO_BUF_REG)).orElse(null));
        m.put("flags", info.map(DeviceInfo::flagNames).orElse(List.of()));
        m.put("log", r != null ? r.log() : null);
        // What it served so far, asked of the server itself (its control socket); none for a device not served.
        Control.Counters io = "running".equals(m.get("server"))
                ? ControlClient.counters(run.socketFile(id), 2000).orElse(null) : null;
        m.put("io", io);
        if (io != null) {
            m.put("requests", requests(io));
            m.put("errors", io.failed());
        }
        return Optional.of(m);
    }

    private static DeviceParams params(UblkControl ctrl, int id) {
        try {
            return ctrl.getParams(id);
        } catch (NativeException e) {
            return null; // a device whose parameters were never set (mid-creation) still lists
        }
    }

    /** The table's columns before the targets' own (the registry's), which end it. */
    static final List<String> COLUMNS = List.of("id", "state", "server", "target", "queues", "depth", "size", "block",
            "char", "pid");

    /** Which declaration a device comes from and its serial (its /dev/disk/by-id name): after the counters. */
    static final List<String> IDENTITY = List.of("name", "serial");

    /** The counters' columns: totals for one look, rates for --watch. */
    static final List<String> IO_TOTALS = List.of("requests", "errors");
    static final List<String> IO_RATES = List.of("iops", "mib/s", "err/s");
    /** Where a row keeps its server's counters (the JSON's "io"). */
    private static final String COUNTERS = "io";

    private static void print(List<Map<String, Object>> rows, List<String> io) {
        List<String> all = new ArrayList<>(COLUMNS);
        all.addAll(io);
        all.addAll(IDENTITY);
        all.addAll(Targets.columns());
        String[] cols = all.toArray(String[]::new);
        List<String[]> table = new ArrayList<>();
        String[] head = new String[cols.length];
        for (int c = 0; c < cols.length; c++) {
            head[c] = cols[c].toUpperCase(java.util.Locale.ROOT);
        }
        table.add(head);
        for (Map<String, Object> r : rows) {
            String[] line = new String[cols.length];
            for (int c = 0; c < cols.length; c++) {
                Object v = r.get(cols[c]);
                line[c] = v == null ? "-" : cols[c].equals("size") ? Sizes.format((Long) v) : v.toString();
            }
            table.add(line);
        }
        int[] w = new int[cols.length];
        for (String[] line : table) {
            for (int c = 0; c < cols.length; c++) {
                w[c] = Math.max(w[c], line[c].length());
            }
        }
        for (String[] line : table) {
            StringBuilder sb = new StringBuilder();
            for (int c = 0; c < cols.length; c++) {
                sb.append(c == cols.length - 1 ? line[c] : String.format("%-" + (w[c] + 2) + "s", line[c]));
            }
            System.out.println(sb.toString().stripTrailing());
        }
    }
}
