package io.jublk.daemon;

import io.jublk.uapi.LinuxUapi;
import io.jublk.record.ServerProcess;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Fault injection for the tests that prove a server leaves nothing behind whatever moment it fails or dies at:
 * {@code JUBLK_TEST_FAULT=POINT:ACTION[,POINT:ACTION...]} in a daemon's environment, where POINT is one of
 * {@code claimed}, {@code opened}, {@code added} (right after ADD_DEV), {@code started} (right after START_DEV),
 * {@code flushing}, and ACTION is {@code fail} (throw, as a real failure would), {@code kill} (SIGKILL itself: a
 * crash), or {@code sleep=SECONDS}. Without the variable nothing happens.
 */
final class Faults {
    private final Map<String, String> actions;

    private Faults(Map<String, String> actions) {
        this.actions = actions;
    }

    static Faults fromEnvironment() {
        Map<String, String> m = new HashMap<>();
        String spec = System.getenv("JUBLK_TEST_FAULT");
        if (spec != null) {
            for (String part : spec.split(",")) {
                int c = part.indexOf(':');
                if (c > 0) {
                    m.put(part.substring(0, c).trim().toLowerCase(Locale.ROOT), part.substring(c + 1).trim());
                }
            }
        }
        return new Faults(m);
    }

    void at(String point) {
        String action = actions.get(point);
        if (action == null) {
            return;
        }
        System.getLogger(Faults.class.getName()).log(System.Logger.Level.WARNING,
                "test fault at " + point + ": " + action);
        if (action.equals("fail")) {
            throw new IllegalStateException("test fault injected at " + point);
        }
        if (action.equals("kill")) {
            ServerProcess.self().signal(LinuxUapi.SIGKILL);
            // Not reached: SIGKILL cannot be caught.
        }
        if (action.startsWith("sleep=")) {
            try {
                Thread.sleep(Long.parseLong(action.substring(6)) * 1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
