package io.jublk.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Queue threads: how many a device gets when nobody says, and where each is pinned, from the set the kernel gives its
 * queue (GET_QUEUE_AFFINITY).
 */
class QueueCpusTest {
    @Test
    void byDefaultOneQueuePerCpuAtMostTwo() {
        int cpus = Runtime.getRuntime().availableProcessors();
        assertEquals(Math.min(cpus, 2), UblkServer.defaultQueues(), cpus + " CPUs");
        assertEquals(0, UblkServer.Options.builder().build().queues(), "0: the target's default, chosen at add");
        assertEquals(3, UblkServer.Options.builder().queues(3).build().queues());
        assertThrows(IllegalArgumentException.class, () -> UblkServer.Options.builder().queues(-1).build());
    }

    @Test
    void oneCpuOfTheSetSpreadByDevice() {
        List<Integer> set = List.of(0, 1, 2, 3);
        assertEquals(List.of(0), UblkServer.queueCpus(set, 0, "one"), "device 0 takes the first, as kublk does");
        assertEquals(List.of(1), UblkServer.queueCpus(set, 1, "one"));
        assertEquals(List.of(3), UblkServer.queueCpus(set, 7, "one"));
        assertEquals(List.of(5), UblkServer.queueCpus(List.of(5), 3, "one"), "a one-CPU set stays that CPU");
    }

    @Test
    void allKeepsTheSetAndAnEmptySetPinsNothing() {
        assertEquals(List.of(2, 3), UblkServer.queueCpus(List.of(2, 3), 4, "all"));
        assertEquals(List.of(), UblkServer.queueCpus(List.of(), 4, "one"));
    }

    @Test
    void anUnknownPolicyIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> UblkServer.queueCpus(List.of(0), 0, "first"));
        assertEquals("jublk.queue.affinity must be one or all, not 'first'", e.getMessage());
    }
}
