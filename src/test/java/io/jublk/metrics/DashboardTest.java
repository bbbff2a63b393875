package io.jublk.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The Grafana dashboard and its provisioning files, checked without Grafana: well-formed, importable as-is
 * (datasource variable, uid, schema version), every panel's PromQL uses only metrics the endpoint serves.
 * PrometheusScrapeIT runs every expression against a real Prometheus scraping a real device.
 */
class DashboardTest {
    /** Series of a device's endpoint (see MetricsServer, DeviceMetrics, QueueHistograms). */
    private static final Set<String> UBLK = Set.of("ublk_requests_total", "ublk_request_failures_total",
            "ublk_io_bytes_total", "ublk_inflight_requests", "ublk_backend_inflight_operations",
            "ublk_device_size_bytes", "ublk_device_info", "ublk_errors_total",
            "ublk_request_duration_seconds_bucket", "ublk_request_duration_seconds_sum",
            "ublk_request_duration_seconds_count", "ublk_backend_duration_seconds_bucket",
            "ublk_backend_duration_seconds_sum", "ublk_backend_duration_seconds_count");
    /** Micrometer shows these only after the JVM's first GC. */
    private static final Set<String> AFTER_GC = Set.of("jvm_gc_pause_seconds_count", "jvm_gc_pause_seconds_sum",
            "jvm_gc_pause_seconds_max");
    private static final Pattern METRIC = Pattern.compile("\\b((?:ublk|jvm|process|system)_[a-z0-9_]+)\\b");

    private final Dashboard d = Dashboard.load();

    @Test
    void importableAsIs() {
        assertTrue(d.json.get("uid") instanceof String uid && uid.matches("[a-zA-Z0-9_-]{1,40}"), "uid");
        assertTrue(d.json.get("title") instanceof String t && !t.isBlank(), "title");
        assertTrue(((Double) d.json.get("schemaVersion")) >= 38, "schemaVersion >= 38 (Grafana 10+)");
        assertFalse(d.json.containsKey("id") && d.json.get("id") != null, "a fixed id would clash on import");
        Map<String, Object> ds = d.variable("datasource");
        assertEquals("datasource", ds.get("type"));
        assertEquals("prometheus", ds.get("query"));
        String all = d.json.toString();
        assertFalse(all.contains("DS_PROMETHEUS") && !d.json.containsKey("__inputs"),
                "${DS_PROMETHEUS} without __inputs");
    }

    @Test
    void deviceAndInstanceVariables() {
        assertEquals("label_values(ublk_device_info, instance)", d.variableQuery("instance"));
        String device = d.variableQuery("device");
        assertTrue(device.matches("label_values\\(ublk_device_info(\\{[^}]*})?, device\\)"), device);
        for (String v : List.of("instance", "device")) {
            Map<String, Object> var = d.variable(v);
            assertEquals("query", var.get("type"));
            assertEquals("${datasource}", MiniJson.obj(var.get("datasource")).get("uid"), v);
            assertEquals(".*", var.get("allValue"), v + ": All must be a regex for =~");
        }
    }

    @Test
    void panelsUseTheDatasourceVariable() {
        Set<Object> ids = new HashSet<>();
        for (Map<String, Object> p : d.panels()) {
            String title = (String) p.get("title");
            assertTrue(ids.add(p.get("id")), "duplicate panel id " + p.get("id"));
            if ("row".equals(p.get("type"))) {
                continue;
            }
            assertEquals("${datasource}", MiniJson.obj(p.get("datasource")).get("uid"), title);
            List<Object> targets = MiniJson.arr(p.get("targets"));
            assertFalse(targets.isEmpty(), title + ": no queries");
            Set<Object> refs = new HashSet<>();
            for (Object t : targets) {
                Map<String, Object> target = MiniJson.obj(t);
                assertTrue(refs.add(target.get("refId")), title + ": duplicate refId");
                assertEquals("${datasource}", MiniJson.obj(target.get("datasource")).get("uid"), title);
                assertTrue(target.get("expr") instanceof String e && !e.isBlank(), title + ": empty expr");
            }
        }
    }

    @Test
    void panelsDoNotOverlap() {
        List<int[]> boxes = new ArrayList<>();
        for (Map<String, Object> p : d.panels()) {
            Map<String, Object> g = MiniJson.obj(p.get("gridPos"));
            int x = ((Double) g.get("x")).intValue(), y = ((Double) g.get("y")).intValue();
            int w = ((Double) g.get("w")).intValue(), h = ((Double) g.get("h")).intValue();
            assertTrue(x >= 0 && w > 0 && x + w <= 24 && h > 0, p.get("title") + ": gridPos " + g);
            for (int[] b : boxes) {
                boolean apart = x + w <= b[0] || b[0] + b[2] <= x || y + h <= b[1] || b[1] + b[3] <= y;
                assertTrue(apart, p.get("title") + " overlaps another panel");
            }
            boxes.add(new int[] {x, y, w, h});
        }
    }

    @Test
    void everyExpressionUsesServedMetricsAndTheDeviceVariable() {
        Set<String> served = new HashSet<>(UBLK);
        served.addAll(AFTER_GC);
        served.addAll(jvmAndProcessSeries());
        Set<String> used = new TreeSet<>();
        for (Dashboard.Query q : d.queries()) {
            assertTrue(q.expr().contains("device=~\"$device\""), q + ": not filtered by $device");
            assertTrue(q.expr().contains("instance=~\"$instance\""), q + ": not filtered by $instance");
            String plain = Dashboard.substitute(q.expr(), "0", "127.0.0.1:9464", "1m");
            assertFalse(plain.contains("$"), q + ": a variable the tests do not know");
            Matcher m = METRIC.matcher(plain);
            while (m.find()) {
                assertTrue(served.contains(m.group(1)), q + ": " + m.group(1) + " is not served");
                used.add(m.group(1));
            }
        }
        for (String family : List.of("ublk_requests_total", "ublk_request_failures_total", "ublk_io_bytes_total",
                "ublk_inflight_requests", "ublk_backend_inflight_operations", "ublk_device_size_bytes",
                "ublk_device_info", "ublk_errors_total", "ublk_request_duration_seconds_bucket",
                "ublk_backend_duration_seconds_bucket", "jvm_memory_used_bytes", "jvm_gc_pause_seconds_sum",
                "process_cpu_seconds_total")) {
            assertTrue(used.contains(family), family + " is on no panel; used: " + used);
        }
    }

    @Test
    void latencyQuantiles() {
        for (String metric : List.of("ublk_request_duration_seconds_bucket", "ublk_backend_duration_seconds_bucket")) {
            for (String q : List.of("0.5", "0.99", "0.999")) {
                String want = "histogram_quantile(" + q + ", ";
                assertTrue(d.queries().stream().anyMatch(x -> x.expr().startsWith(want) && x.expr().contains(metric)),
                        "no " + want + metric + ")");
            }
        }
    }

    @Test
    void provisioningFiles() throws Exception {
        String ds = Files.readString(Dashboard.repo().resolve("grafana/provisioning/datasources/prometheus.yaml"));
        assertTrue(ds.contains("apiVersion: 1") && ds.contains("type: prometheus"), ds);
        String dash = Files.readString(Dashboard.repo().resolve("grafana/provisioning/dashboards/jublk.yaml"));
        assertTrue(dash.contains("apiVersion: 1") && dash.contains("type: file") && dash.contains("path:"), dash);
        File promtool = new File("/usr/bin/promtool");
        if (promtool.canExecute()) {
            Process p = new ProcessBuilder(promtool.getPath(), "check", "config",
                    Dashboard.repo().resolve("grafana/prometheus.yml").toString()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), out);
        }
    }

    /** The JVM and process series names this JVM's endpoint would have (sample names, not families). */
    private static Set<String> jvmAndProcessSeries() {
        var registry = new io.micrometer.prometheusmetrics.PrometheusMeterRegistry(
                io.micrometer.prometheusmetrics.PrometheusConfig.DEFAULT);
        MetricsServer.prometheusConventions(registry);
        MetricsServer.bindJvmAndProcess(registry);
        try (var gc = new io.micrometer.core.instrument.binder.jvm.JvmGcMetrics()) {
            gc.bindTo(registry);
            Set<String> names = new HashSet<>();
            for (String line : registry.scrape().split("\n")) {
                if (!line.startsWith("#") && !line.isBlank()) {
                    names.add(line.split("[{ ]", 2)[0]);
                }
            }
            return names;
        } finally {
            registry.close();
        }
    }
}
