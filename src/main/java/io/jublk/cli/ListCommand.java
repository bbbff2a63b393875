package io.jublk.cli;

import io.jublk.ctrl.UblkControl;
import io.jublk.uapi.Ublk;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "list", description = "List ublk devices: the kernel's view and, for jublk's, the target.")
final class ListCommand implements Callable<Integer> {
    @Option(names = {"-n", "--number"}, paramLabel = "ID", description = "Only this device.")
    Integer id;

    @Option(names = "--json", description = "Print a JSON array with stable field names.")
    boolean json;

    @Override
    public Integer call() {
        Preflight.requireUblk();
        List<Map<String, Object>> rows = new ArrayList<>();
        try (UblkControl ctrl = UblkControl.open()) {
            List<Integer> ids = id != null ? List.of(id) : UblkControl.listDeviceIds();
            for (int i : ids) {
                Devices.find(ctrl, i).ifPresent(d -> rows.add(row(d)));
            }
        }
        if (id != null && rows.isEmpty()) {
            throw new Errors.UserError("device " + id + " does not exist");
        }
        if (json) {
            System.out.println(Json.write(rows));
        } else {
            print(rows);
        }
        return 0;
    }

    static Map<String, Object> row(Devices d) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", d.id());
        m.put("state", d.info().stateName());
        m.put("target", d.target());
        m.put("queues", d.info().nrHwQueues());
        m.put("depth", d.info().queueDepth());
        m.put("size", d.params() != null ? d.params().sizeBytes() : 0L);
        m.put("logical_block_size", d.params() != null ? d.params().logicalBlockSize() : 0);
        String block = d.info().blockDevice();
        m.put("block", Files.exists(Path.of(block)) ? block : null);
        m.put("char", d.info().charDevice());
        m.put("pid", d.info().ublksrvPid() > 0 ? d.info().ublksrvPid() : null);
        m.put("file", d.targetField("file"));
        m.put("mode", d.targetField("mode"));
        m.put("recovery", d.state() != null ? d.state().getProperty("recovery") : null);
        m.put("zero_copy", d.info().has(Ublk.UBLK_F_AUTO_BUF_REG));
        m.put("flags", d.info().flagNames());
        return m;
    }

    private static void print(List<Map<String, Object>> rows) {
        String[] cols = {"id", "state", "target", "queues", "depth", "size", "block", "char", "pid", "mode", "file"};
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
