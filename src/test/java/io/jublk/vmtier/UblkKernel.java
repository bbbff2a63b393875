package io.jublk.vmtier;

import static org.junit.jupiter.api.Assertions.fail;

import io.jublk.ctrl.UblkControl;
import io.jublk.sys.LibC;
import io.jublk.sys.NativeException;
import java.util.List;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * For every test class of the tier: the tests run only where there is a ublk driver and root (in the VM, where
 * {@link VmTier} counts a test that did not run as failed), and each test must leave no ublk device behind. One
 * it left is removed, so that the tests after it start clean, and the test fails.
 */
final class UblkKernel implements ExecutionCondition, AfterEachCallback {
    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        if (!UblkControl.available()) {
            return ConditionEvaluationResult.disabled("no " + UblkControl.CONTROL_DEVICE
                    + ": the tier runs in the VM (vm-tests/vmtier.sh)");
        }
        if (LibC.geteuid() != 0) {
            return ConditionEvaluationResult.disabled("ublk devices need root");
        }
        return ConditionEvaluationResult.enabled("ublk_drv is there");
    }

    @Override
    public void afterEach(ExtensionContext context) {
        List<Integer> left = UblkControl.listDeviceIds();
        if (left.isEmpty()) {
            return;
        }
        try (UblkControl ctrl = UblkControl.open()) {
            for (int id : left) {
                try {
                    ctrl.stopDev(id);
                } catch (NativeException e) {
                    // Not started, or stopped already: DEL_DEV still applies.
                }
                try {
                    ctrl.delete(id);
                } catch (NativeException e) {
                    // Reported below as left behind, which it is.
                }
            }
        }
        fail("the test left ublk devices behind: " + left);
    }
}
