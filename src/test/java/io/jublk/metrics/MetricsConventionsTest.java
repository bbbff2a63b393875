package io.jublk.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The JVM and process meters of the metrics endpoint follow Prometheus' naming conventions (the device meters
 * need a live device: vm-tests/metrics-scrape.sh lints those with promtool in the guest).
 */
class MetricsConventionsTest {
    private static final Pattern TYPE = Pattern.compile("^# TYPE (\\S+) (\\S+)$", Pattern.MULTILINE);
    /** Abbreviated or non-base units Prometheus' conventions rule out. */
    private static final Pattern BAD_UNIT =
            Pattern.compile("_(ns|us|ms|nanoseconds|microseconds|milliseconds|minutes|hours|kb|mb|gb|kib|mib|gib)(_|$)");

    private static String scrape() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        MetricsServer.prometheusConventions(registry);
        MetricsServer.bindJvmAndProcess(registry);
        try (JvmGcMetrics gc = new JvmGcMetrics()) {
            gc.bindTo(registry);
            return registry.scrape();
        } finally {
            registry.close();
        }
    }

    @Test
    void processCpuIsInSeconds() {
        String text = scrape();
        assertTrue(text.contains("\nprocess_cpu_seconds_total "), text);
        assertTrue(text.contains("# TYPE process_cpu_seconds_total counter"), text);
        assertTrue(!text.contains("process_cpu_time"), "Micrometer's nanosecond counter is still there");
        Matcher m = Pattern.compile("\nprocess_cpu_seconds_total (\\S+)").matcher(text);
        assertTrue(m.find());
        double seconds = Double.parseDouble(m.group(1));
        // This JVM has run for a while, but not for days of CPU: seconds, not nanoseconds.
        assertTrue(seconds > 0 && seconds < 86_400, "process_cpu_seconds_total = " + seconds);
    }

    @Test
    void cpuCountIsRenamed() {
        String text = scrape();
        assertTrue(text.contains("\nsystem_cpus " + Runtime.getRuntime().availableProcessors() + ".0"), text);
        assertTrue(!text.contains("system_cpu_count"), text);
    }

    @Test
    void namesFollowConventions() {
        String text = scrape();
        List<String> problems = new ArrayList<>();
        Matcher m = TYPE.matcher(text);
        int n = 0;
        while (m.find()) {
            n++;
            String name = m.group(1);
            String type = m.group(2);
            if (type.equals("counter") && !name.endsWith("_total")) {
                problems.add(name + ": a counter without _total");
            }
            if (!type.equals("counter") && name.endsWith("_total")) {
                problems.add(name + ": a " + type + " ending in _total");
            }
            if ((type.equals("gauge") || type.equals("counter")) && name.matches(".*_(count|sum|bucket)(_total)?")) {
                problems.add(name + ": a " + type + " with a histogram/summary suffix");
            }
            if (BAD_UNIT.matcher(name).find()) {
                problems.add(name + ": not a base unit");
            }
        }
        assertTrue(n > 10, "too few metrics: " + text);
        assertEquals(List.of(), problems);
    }

    /** promtool, when installed (Debian's prometheus package has it), has the last word. */
    @Test
    void promtoolFindsNothing() throws Exception {
        File promtool = new File("/usr/bin/promtool");
        if (!promtool.canExecute()) {
            System.err.println("MetricsConventionsTest: no /usr/bin/promtool, lint skipped");
            return;
        }
        Process p = new ProcessBuilder(promtool.getPath(), "check", "metrics").redirectErrorStream(true).start();
        p.getOutputStream().write(scrape().getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), "promtool check metrics:\n" + out);
        assertEquals("", out.strip(), "promtool check metrics:\n" + out);
    }
}
