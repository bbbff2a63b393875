package io.jublk.metrics;

import io.jublk.server.UblkServer;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;
import java.util.Map;

/**
 * The Prometheus endpoint of one device's server: Micrometer's Prometheus registry (device, queue, JVM and
 * process metrics) served at {@code /metrics} by the Prometheus Java client's HTTP exporter.
 */
public final class MetricsServer implements AutoCloseable {
    /** Held here: a function counter keeps only a weak reference to its object. */
    private static final OperatingSystemMXBean OS = ManagementFactory.getOperatingSystemMXBean();

    private final PrometheusMeterRegistry registry;
    private final JvmGcMetrics gc;
    private final HTTPServer http;

    private MetricsServer(PrometheusMeterRegistry registry, JvmGcMetrics gc, HTTPServer http) {
        this.registry = registry;
        this.gc = gc;
        this.http = http;
    }

    /**
     * Registers everything for {@code server} and starts serving on {@code address:port}.
     *
     * @param labels what every series of the device carries besides {@code device} and {@code queue}: its target's
     *               (target registry: {@code Targets.labels})
     */
    public static MetricsServer start(UblkServer server, Map<String, String> labels, String address, int port) {
        PrometheusMeterRegistry registry = registry(server, labels);
        JvmGcMetrics gc = new JvmGcMetrics();
        gc.bindTo(registry);
        try {
            HTTPServer http = HTTPServer.builder().hostname(address).port(port)
                    .registry(registry.getPrometheusRegistry()).buildAndStart();
            return new MetricsServer(registry, gc, http);
        } catch (IOException e) {
            gc.close();
            registry.close();
            throw new UncheckedIOException("cannot serve metrics on " + address + ":" + port, e);
        }
    }

    /** The registry with every jublk, JVM and process meter, without an HTTP server (for tests). */
    static PrometheusMeterRegistry registry(UblkServer server, Map<String, String> labels) {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        prometheusConventions(registry);
        DeviceMetrics.bind(registry, server, labels);
        registry.getPrometheusRegistry().register(new QueueHistograms(server, labels));
        bindJvmAndProcess(registry);
        return registry;
    }

    /**
     * The JVM and process meters (all but GC, which {@link #start} binds: it must be closed), after
     * {@link #prometheusConventions}.
     */
    static void bindJvmAndProcess(MeterRegistry registry) {
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
    }

    /**
     * Where Micrometer's names break Prometheus' conventions ({@code promtool check metrics}): its
     * {@code process.cpu.time} counts nanoseconds ({@code process_cpu_time_ns_total}), so it is replaced by
     * {@code process_cpu_seconds_total} (base unit, and the name Prometheus' own clients use); and
     * {@code system.cpu.count} would end in {@code _count}, which only histograms and summaries may, so it is
     * {@code system_cpus}. Filters apply to meters registered later: call this first.
     */
    static void prometheusConventions(MeterRegistry registry) {
        registry.config()
                .meterFilter(MeterFilter.deny(id -> id.getName().equals("process.cpu.time")))
                .meterFilter(new MeterFilter() {
                    @Override
                    public Meter.Id map(Meter.Id id) {
                        return id.getName().equals("system.cpu.count") ? id.withName("system.cpus") : id;
                    }
                });
        if (OS instanceof com.sun.management.OperatingSystemMXBean os) {
            FunctionCounter.builder("process.cpu", os, x -> {
                long nanos = x.getProcessCpuTime();
                return nanos < 0 ? Double.NaN : nanos / 1e9;
            }).baseUnit("seconds").description("CPU time used by the JVM process").register(registry);
        }
    }

    /**
     * For the AOT cache's training run (`ublk __train`): the registry, the JVM and process meters, an HTTP server on
     * an ephemeral loopback port and a scrape, so that the classes a daemon with {@code --metrics-port} loads are in
     * the cache. No device: nothing of jublk's own is registered.
     */
    public static void warmUp() throws IOException {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        prometheusConventions(registry);
        bindJvmAndProcess(registry);
        try (JvmGcMetrics gc = new JvmGcMetrics()) {
            gc.bindTo(registry);
            HTTPServer http = HTTPServer.builder().hostname("127.0.0.1").port(0)
                    .registry(registry.getPrometheusRegistry()).buildAndStart();
            http.close();
            registry.scrape();
        } finally {
            registry.close();
        }
    }

    public int port() {
        return http.getPort();
    }

    /** The exposition text, as a scrape would get it. */
    public String scrape() {
        return registry.scrape();
    }

    @Override
    public void close() {
        http.close();
        gc.close();
        registry.close();
    }
}
