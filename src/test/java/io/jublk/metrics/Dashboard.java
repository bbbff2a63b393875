package io.jublk.metrics;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** grafana/jublk-dashboard.json as the tests see it: its panels, their PromQL, its variables. */
final class Dashboard {
    static final String FILE = "grafana/jublk-dashboard.json";

    /** One query of one panel. */
    record Query(String panel, String refId, String expr) {
        @Override
        public String toString() {
            return "\"" + panel + "\" " + refId + ": " + expr;
        }
    }

    final Map<String, Object> json;

    private Dashboard(Map<String, Object> json) {
        this.json = json;
    }

    static Path repo() {
        return Path.of(System.getProperty("jublk.repo", ".")).toAbsolutePath();
    }

    static Dashboard load() {
        try {
            return new Dashboard(MiniJson.obj(MiniJson.parse(Files.readString(repo().resolve(FILE)))));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every panel, rows' nested ones included, rows themselves too. */
    List<Map<String, Object>> panels() {
        List<Map<String, Object>> out = new ArrayList<>();
        collect(MiniJson.arr(json.get("panels")), out);
        return out;
    }

    private static void collect(List<Object> panels, List<Map<String, Object>> out) {
        for (Object o : panels) {
            Map<String, Object> p = MiniJson.obj(o);
            out.add(p);
            if (p.get("panels") instanceof List<?> nested) {
                collect(MiniJson.arr(nested), out);
            }
        }
    }

    /** Every PromQL expression, as written (with Grafana variables). */
    List<Query> queries() {
        List<Query> out = new ArrayList<>();
        for (Map<String, Object> p : panels()) {
            if (p.get("targets") instanceof List<?> targets) {
                for (Object t : targets) {
                    Map<String, Object> target = MiniJson.obj(t);
                    out.add(new Query((String) p.get("title"), (String) target.get("refId"),
                            (String) target.get("expr")));
                }
            }
        }
        return out;
    }

    List<Map<String, Object>> variables() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Object v : MiniJson.arr(MiniJson.obj(json.get("templating")).get("list"))) {
            out.add(MiniJson.obj(v));
        }
        return out;
    }

    Map<String, Object> variable(String name) {
        return variables().stream().filter(v -> name.equals(v.get("name"))).findFirst()
                .orElseThrow(() -> new AssertionError("no variable " + name));
    }

    /** The PromQL-ish query of a query variable, e.g. {@code label_values(ublk_device_info, device)}. */
    String variableQuery(String name) {
        Object q = variable(name).get("query");
        return q instanceof Map<?, ?> m ? (String) m.get("query") : (String) q;
    }

    /**
     * {@code expr} as Grafana would send it with one device and instance selected and a fixed interval:
     * {@code $device}, {@code $instance}, {@code $__rate_interval}, {@code $__interval} (and their
     * {@code ${...}} forms) replaced.
     */
    static String substitute(String expr, String device, String instance, String interval) {
        String s = expr;
        for (String[] r : new String[][] {{"__rate_interval", interval}, {"__interval", interval},
                {"device", device}, {"instance", instance}}) {
            s = s.replace("${" + r[0] + "}", r[1]).replace("$" + r[0], r[1]);
        }
        return s;
    }
}
