/**
 * jublk: serve Linux ublk block devices from JVM code. The API: the SPI a target implements ({@code io.jublk.spi}),
 * the server that runs a device ({@code io.jublk.server}), the bundled targets ({@code io.jublk.targets}), example
 * targets to start from ({@code io.jublk.examples}) and the Prometheus endpoint ({@code io.jublk.metrics});
 * everything else is the command line's and the runtime's own. The command line itself runs from the class path
 * (the self-contained {@code target/jublk.jar}).
 */
module io.jublk {
    requires info.picocli;
    requires micrometer.core;
    requires micrometer.registry.prometheus;
    requires io.prometheus.metrics.exporter.httpserver;
    requires tools.jackson.databind;
    requires com.fasterxml.jackson.annotation;
    requires java.management;
    requires jdk.management;
    requires jdk.httpserver;
    requires java.logging;
    requires io.prometheus.metrics.model;

    exports io.jublk.spi;
    exports io.jublk.server;
    exports io.jublk.targets;
    exports io.jublk.metrics;
    exports io.jublk.examples;

    opens io.jublk.cli to info.picocli;
    // A target type's command-line options and its record live with the target.
    opens io.jublk.targets to info.picocli, tools.jackson.databind;
    opens io.jublk.record to tools.jackson.databind;
    opens io.jublk.daemon to tools.jackson.databind;
}
