package io.jublk.queue;

import io.jublk.spi.DeviceParams;
import io.jublk.spi.QueueContext;
import io.jublk.spi.QueueHandler;
import io.jublk.spi.Target;
import java.util.function.Function;

/** A target made of a handler factory, for tests of the queue's rules: 512-byte blocks, {@code size} bytes. */
record TestTarget(String name, long size, Function<QueueContext, QueueHandler> handlers) implements Target {
    @Override
    public DeviceParams params(int maxIoBytes) {
        return DeviceParams.basic(size, 512, 512, maxIoBytes, 0);
    }

    @Override
    public QueueHandler openQueue(QueueContext queue) {
        return handlers.apply(queue);
    }
}
