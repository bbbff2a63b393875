package io.jublk.vmtier;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectPackage;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.junit.platform.engine.DiscoverySelector;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * Runs the in-VM tier, the JUnit tests of this package, in this one JVM, and reports each test as a scenario
 * check: {@code ok   - NAME (SECONDS s)} or {@code FAIL - NAME: WHY} with details on {@code     | } lines, then
 * a tally. Exits 0 only if every test passed; a test that did not run (disabled, an assumption that failed) counts
 * as failed, since in the VM every one of them must run. {@code vm-tests/vmtier.sh} starts it.
 *
 * <p>Arguments: test classes to run, by simple name (e.g. {@code LoopDeviceTest}), or methods as
 * {@code pkg.Class#method}; none: every class here, and {@link #ELSEWHERE}.
 */
public final class VmTier {
    // Held so the level sticks (java.util.logging keeps loggers weakly): a line per device start and stop would
    // bury the verdicts; warnings and errors still show.
    private static final Logger JUBLK_LOG = Logger.getLogger("io.jublk");

    /**
     * Host tests with a half that only a newer kernel than the host's runs (they skip it there): here, on 7.3, it
     * must run. NetworkTargetTest: a READ received with RECV into the request's own registered pages.
     */
    private static final List<String> ELSEWHERE = List.of(
            "io.jublk.queue.NetworkTargetTest#aZeroCopyQueueSendsFromAndReceivesIntoTheRequestsOwnPages");

    private VmTier() {}

    public static void main(String[] args) {
        JUBLK_LOG.setLevel(Level.WARNING);
        List<DiscoverySelector> selectors = new ArrayList<>();
        for (String name : args) {
            selectors.add(name.contains("#") ? selectMethod(name)
                    : selectClass(VmTier.class.getPackageName() + "." + name));
        }
        if (selectors.isEmpty()) {
            selectors.add(selectPackage(VmTier.class.getPackageName()));
            ELSEWHERE.forEach(m -> selectors.add(selectMethod(m)));
        }
        // One test at a time (the test resources let VM scenarios run two at once): the tests share two vCPUs, and
        // the stress test counts the process's threads.
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request().selectors(selectors)
                .configurationParameter("junit.jupiter.execution.parallel.enabled", "false").build();
        Report report = new Report(System.out);
        LauncherFactory.create().execute(request, report);
        System.exit(report.failed == 0 && report.passed > 0 ? 0 : 1);
    }

    /** Turns the platform's events into the scenario's lines. */
    private static final class Report implements TestExecutionListener {
        private final PrintStream out;
        private final Map<String, Long> started = new HashMap<>();
        private TestPlan plan;
        private long planStarted;
        int passed;
        int failed;

        Report(PrintStream out) {
            this.out = out;
        }

        @Override
        public void testPlanExecutionStarted(TestPlan testPlan) {
            plan = testPlan;
            planStarted = System.nanoTime();
            long classes = testPlan.getRoots().stream().mapToLong(r -> testPlan.getChildren(r).size()).sum();
            out.println("     # vm tier: " + classes + " test classes in this one JVM");
        }

        @Override
        public void executionStarted(TestIdentifier id) {
            started.put(id.getUniqueId(), System.nanoTime());
            if (id.isTest()) {
                out.println("     # " + name(id) + " ...");
            }
        }

        @Override
        public void executionSkipped(TestIdentifier id, String reason) {
            failed++;
            out.println("FAIL - " + name(id) + ": did not run: " + reason);
        }

        @Override
        public void executionFinished(TestIdentifier id, TestExecutionResult result) {
            double seconds = (System.nanoTime() - started.getOrDefault(id.getUniqueId(), System.nanoTime())) / 1e9;
            if (result.getStatus() == TestExecutionResult.Status.SUCCESSFUL) {
                if (id.isTest()) {
                    passed++;
                    out.printf("ok   - %s (%.1f s)%n", name(id), seconds);
                }
                return;
            }
            // A failed container (a @BeforeAll, or the class's extension) is one failure, as a test is.
            failed++;
            Throwable t = result.getThrowable().orElse(null);
            String why = result.getStatus() == TestExecutionResult.Status.ABORTED ? "did not run: " : "";
            out.printf("FAIL - %s: %s%s (%.1f s)%n", name(id), why, t == null ? "no reason given" : firstLine(t),
                    seconds);
            if (t != null) {
                details(t);
            }
        }

        @Override
        public void testPlanExecutionFinished(TestPlan testPlan) {
            out.printf("     # vm tier: %d passed, %d failed, %.0f s%n", passed, failed,
                    (System.nanoTime() - planStarted) / 1e9);
        }

        /** "Class > method > invocation", from the class down. */
        private String name(TestIdentifier id) {
            List<String> parts = new ArrayList<>();
            for (TestIdentifier i = id; i != null; i = plan.getParent(i).orElse(null)) {
                if (plan.getParent(i).isPresent()) { // the engine (the root) is not part of the name
                    parts.addFirst(i.getDisplayName());
                }
            }
            return String.join(" > ", parts);
        }

        private static String firstLine(Throwable t) {
            String m = t.getMessage();
            if (m == null || m.isBlank()) {
                return t.getClass().getName();
            }
            String first = m.lines().findFirst().orElse("");
            return t instanceof AssertionError ? first : t.getClass().getSimpleName() + ": " + first;
        }

        /**
         * The rest of the message, and where it failed: for a failed assertion the tier's own frames, for an
         * unexpected exception jublk's frames it passed through, and its causes.
         */
        private void details(Throwable t) {
            String m = t.getMessage();
            if (m != null) {
                m.lines().skip(1).limit(30).forEach(l -> out.println("     | " + l));
            }
            for (Throwable c = t; c != null; c = c.getCause()) {
                if (c != t) {
                    out.println("     | caused by " + c);
                }
                String ours = c instanceof AssertionError ? VmTier.class.getPackageName() : "io.jublk.";
                Arrays.stream(c.getStackTrace()).filter(e -> e.getClassName().startsWith(ours)).limit(8)
                        .forEach(e -> out.println("     |   at " + e));
            }
        }
    }
}
