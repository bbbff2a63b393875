package io.jublk.cli;

import io.jublk.ctrl.DeviceInfo;
import io.jublk.ctrl.DeviceParams;
import io.jublk.ctrl.UblkControl;
import io.jublk.sys.NativeException;
import java.util.Optional;
import java.util.Properties;

/** A device as `ublk list` and `ublk del` see it: the kernel's view plus this tool's state file. */
record Devices(int id, DeviceInfo info, DeviceParams params, Properties state) {

    /** The device {@code id}, or empty if the kernel has no such device. */
    static Optional<Devices> find(UblkControl ctrl, int id) {
        DeviceInfo info;
        try {
            info = ctrl.getDevInfo(id);
        } catch (NativeException e) {
            return Optional.empty();
        }
        DeviceParams params = null;
        try {
            params = ctrl.getParams(id);
        } catch (NativeException e) {
            // A device whose parameters were never set (e.g. mid-creation) still lists.
        }
        return Optional.of(new Devices(id, info, params, RunDir.readState(id).orElse(null)));
    }

    /** The pid of the jublk daemon serving this device, if that process is alive. */
    Optional<ProcessHandle> daemon() {
        if (state == null) {
            return Optional.empty();
        }
        long pid;
        try {
            pid = Long.parseLong(state.getProperty("pid", "-1"));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
        return ProcessHandle.of(pid).filter(ProcessHandle::isAlive).filter(Devices::isJublk);
    }

    /** Guards against a recycled pid: the process must be a JVM running jublk. */
    static boolean isJublk(ProcessHandle p) {
        return p.info().commandLine().map(c -> c.contains(Main.class.getName()) || c.contains("jublk"))
                .orElse(false);
    }

    String target() {
        return state != null ? state.getProperty("target", "-") : "-";
    }

    String targetField(String key) {
        return state != null ? state.getProperty("target." + key) : null;
    }
}
