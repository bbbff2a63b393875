package io.jublk.metrics;

import io.jublk.queue.QueueStats;
import io.jublk.server.UblkServer;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.jublk.spi.Target;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Binds a device's per-queue counters to Micrometer as function counters and gauges: the queue threads
 * write their own plain counters, and a scrape reads them. Nothing is recorded on the I/O path.
 *
 * <p>Every series carries {@code device}, {@code queue} and its target's labels ({@code target}, {@code mode}).
 */
final class DeviceMetrics {
    private DeviceMetrics() {}

    static void bind(MeterRegistry registry, UblkServer server, Map<String, String> labels) {
        Tags device = Tags.of("device", Integer.toString(server.info().devId()));
        for (Map.Entry<String, String> l : labels.entrySet()) {
            device = device.and(l.getKey(), l.getValue());
        }
        for (QueueStats s : server.stats()) {
            Tags tags = device.and("queue", Integer.toString(s.queueId()));
            for (int op = 0; op < QueueStats.OPS; op++) {
                int o = op;
                Tags opTags = tags.and("op", QueueStats.opName(op));
                FunctionCounter.builder("ublk.requests", s, x -> x.completed(o))
                        .description("Requests completed successfully, by operation")
                        .tags(opTags).register(registry);
                FunctionCounter.builder("ublk.request.failures", s, x -> x.failed(o))
                        .description("Requests answered with an error, by operation")
                        .tags(opTags).register(registry);
                if (op == QueueStats.OP_READ || op == QueueStats.OP_WRITE) {
                    FunctionCounter.builder("ublk.io", s, x -> x.bytes(o)).baseUnit("bytes")
                            .description("Bytes read from or written to the device")
                            .tags(opTags).register(registry);
                }
            }
            Gauge.builder("ublk.inflight.requests", s, QueueStats::inflight)
                    .description("Requests the queue is serving now")
                    .tags(tags).register(registry);
            Gauge.builder("ublk.backend.inflight.operations", s, QueueStats::backendInflight)
                    .description("Backing-file operations in flight on the queue's io_uring")
                    .tags(tags).register(registry);
        }
        Target target = server.target();
        for (Map.Entry<String, LongSupplier> c : target.counters().entrySet()) {
            LongSupplier count = c.getValue();
            // The target is the (weakly held) object: the server keeps it alive as long as the device serves.
            FunctionCounter.builder("ublk.target.events", target, t -> count.getAsLong())
                    .description("Events the target counts, by event (e.g. nbd: reconnects, protocol_errors)")
                    .tags(device.and("event", c.getKey())).register(registry);
        }
        Gauge.builder("ublk.device.size", server, x -> x.params().sizeBytes()).baseUnit("bytes")
                .description("Device size").tags(device).register(registry);
        Gauge.builder("ublk.device.info", () -> 1)
                .description("Device facts as labels (value is always 1)")
                .tags(device.and("queues", Integer.toString(server.info().nrHwQueues()),
                        "depth", Integer.toString(server.info().queueDepth()),
                        "logical_block_size", Integer.toString(server.params().logicalBlockSize()),
                        "max_io_bytes", Integer.toString(server.info().maxIoBufBytes()),
                        "features", String.join(",", server.info().flagNames())))
                .register(registry);
    }
}
