package io.jublk.metrics;

import io.jublk.queue.QueueStats;
import io.jublk.server.UblkServer;
import io.jublk.sys.Errno;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.util.List;
import java.util.Map;
import java.util.function.IntToLongFunction;
import java.util.function.ToLongFunction;

/**
 * What Micrometer has no function-based form for: latency histograms and per-errno error counters built at
 * scrape time from the queues' own bucket arrays, registered straight with the Prometheus registry that
 * Micrometer's registry wraps (same endpoint).
 *
 * <ul>
 *   <li>{@code ublk_request_duration_seconds}: from a request's arrival (fetch completion) to its commit;</li>
 *   <li>{@code ublk_backend_duration_seconds}: time with backing-file operations in flight per request;</li>
 *   <li>{@code ublk_errors_total{errno}}: requests that failed, by the errno the target answered (the common
 *       ones always shown).</li>
 * </ul>
 */
final class QueueHistograms implements MultiCollector {
    private static final int[] ALWAYS_SHOWN = {Errno.EIO, Errno.ENOSPC, Errno.EINVAL, Errno.EOPNOTSUPP, Errno.EROFS};
    private static final double[] UPPER_BOUNDS = new double[QueueStats.BUCKETS + 1];

    static {
        for (int i = 0; i < QueueStats.BUCKETS; i++) {
            UPPER_BOUNDS[i] = QueueStats.bucketUpperNanos(i) / 1e9;
        }
        UPPER_BOUNDS[QueueStats.BUCKETS] = Double.POSITIVE_INFINITY;
    }

    private final List<QueueStats> queues;
    private final Labels device;

    QueueHistograms(UblkServer server, Map<String, String> labels) {
        this.queues = server.stats();
        Labels device = Labels.of("device", Integer.toString(server.info().devId()));
        for (Map.Entry<String, String> l : labels.entrySet()) {
            device = device.add(l.getKey(), l.getValue());
        }
        this.device = device;
    }

    @Override
    public MetricSnapshots collect() {
        return MetricSnapshots.of(
                histogram("ublk_request_duration_seconds",
                        "Time from a request's arrival to its completion (seconds)",
                        QueueStats::serviceBucket, QueueStats::serviceSumNanos),
                histogram("ublk_backend_duration_seconds",
                        "Time a request spent on its backend: backing-file operations, or a network round trip (seconds)",
                        QueueStats::backendBucket, QueueStats::backendSumNanos),
                errors());
    }

    interface Bucket {
        long count(QueueStats s, int bucket);
    }

    private HistogramSnapshot histogram(String name, String help, Bucket bucket, ToLongFunction<QueueStats> sum) {
        HistogramSnapshot.Builder b = HistogramSnapshot.builder().name(name).help(help);
        for (QueueStats s : queues) {
            long[] counts = new long[UPPER_BOUNDS.length];
            for (int i = 0; i < counts.length; i++) {
                counts[i] = bucket.count(s, i);
            }
            b.dataPoint(HistogramSnapshot.HistogramDataPointSnapshot.builder()
                    .labels(device.add("queue", Integer.toString(s.queueId())))
                    .classicHistogramBuckets(ClassicHistogramBuckets.of(UPPER_BOUNDS, counts))
                    .sum(sum.applyAsLong(s) / 1e9)
                    .build());
        }
        return b.build();
    }

    private CounterSnapshot errors() {
        CounterSnapshot.Builder b = CounterSnapshot.builder().name("ublk_errors")
                .help("Requests answered with an error, by errno");
        for (QueueStats s : queues) {
            Labels q = device.add("queue", Integer.toString(s.queueId()));
            IntToLongFunction count = s::errors;
            for (int e = 1; e <= QueueStats.MAX_ERRNO; e++) {
                long n = count.applyAsLong(e);
                if (n > 0 || isAlwaysShown(e)) {
                    b.dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder()
                            .labels(q.add("errno", Errno.name(e))).value(n).build());
                }
            }
        }
        return b.build();
    }

    private static boolean isAlwaysShown(int errno) {
        for (int e : ALWAYS_SHOWN) {
            if (e == errno) {
                return true;
            }
        }
        return false;
    }
}
