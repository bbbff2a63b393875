package io.jublk.queue;

import io.jublk.spi.RequestDecoder;
import io.jublk.spi.Request;
import java.lang.foreign.MemorySegment;

/**
 * Test-scope access to {@link Request}'s package-private constructor, for the JMH benchmarks in
 * {@code io.jublk.bench}: the product keeps requests created by the queue alone.
 */
public final class BenchRequests {
    private BenchRequests() {}

    public static Request newRequest(int tag, MemorySegment buffer) {
        return RequestDecoder.newRequest(tag, buffer);
    }
}
