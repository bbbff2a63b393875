package io.jublk.metrics;

import io.jublk.server.UblkServer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * The Prometheus endpoint of one device's server: Micrometer's Prometheus registry (device, queue, JVM and
 * process metrics) served at {@code /metrics} by the Prometheus Java client's HTTP exporter.
 */
public final class MetricsServer implements AutoCloseable {
    private final PrometheusMeterRegistry registry;
    private final JvmGcMetrics gc;
    private final HTTPServer http;

    private MetricsServer(PrometheusMeterRegistry registry, JvmGcMetrics gc, HTTPServer http) {
        this.registry = registry;
        this.gc = gc;
        this.http = http;
    }

    /** Registers everything for {@code server} and starts serving on {@code address:port}. */
    public static MetricsServer start(UblkServer server, String address, int port) {
        PrometheusMeterRegistry registry = registry(server);
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
    static PrometheusMeterRegistry registry(UblkServer server) {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        DeviceMetrics.bind(registry, server);
        registry.getPrometheusRegistry().register(new QueueHistograms(server));
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        return registry;
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
