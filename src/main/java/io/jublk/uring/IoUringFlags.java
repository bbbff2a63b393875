package io.jublk.uring;

import static io.jublk.uapi.IoUringUapi.IORING_SETUP_CLAMP;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_COOP_TASKRUN;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_CQE32;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_CQSIZE;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_DEFER_TASKRUN;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_IOPOLL;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_NO_SQARRAY;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_R_DISABLED;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_SINGLE_ISSUER;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_SQE128;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_SQPOLL;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_SUBMIT_ALL;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_TASKRUN_FLAG;

import java.util.StringJoiner;

/** Human names of IORING_SETUP_* flags, with the kernel release that introduced each, for error messages. */
public final class IoUringFlags {
    private IoUringFlags() {}

    public static String setupFlagName(int flag) {
        return switch (flag) {
            case IORING_SETUP_IOPOLL -> "IORING_SETUP_IOPOLL (Linux 5.1)";
            case IORING_SETUP_SQPOLL -> "IORING_SETUP_SQPOLL (Linux 5.1)";
            case IORING_SETUP_CQSIZE -> "IORING_SETUP_CQSIZE (Linux 5.5)";
            case IORING_SETUP_CLAMP -> "IORING_SETUP_CLAMP (Linux 5.6)";
            case IORING_SETUP_R_DISABLED -> "IORING_SETUP_R_DISABLED (Linux 5.10)";
            case IORING_SETUP_SUBMIT_ALL -> "IORING_SETUP_SUBMIT_ALL (Linux 5.18)";
            case IORING_SETUP_COOP_TASKRUN -> "IORING_SETUP_COOP_TASKRUN (Linux 5.19)";
            case IORING_SETUP_TASKRUN_FLAG -> "IORING_SETUP_TASKRUN_FLAG (Linux 5.19)";
            case IORING_SETUP_SQE128 -> "IORING_SETUP_SQE128 (Linux 5.19), needed for ublk control commands";
            case IORING_SETUP_CQE32 -> "IORING_SETUP_CQE32 (Linux 5.19)";
            case IORING_SETUP_SINGLE_ISSUER -> "IORING_SETUP_SINGLE_ISSUER (Linux 6.0)";
            case IORING_SETUP_DEFER_TASKRUN -> "IORING_SETUP_DEFER_TASKRUN (Linux 6.1)";
            case IORING_SETUP_NO_SQARRAY -> "IORING_SETUP_NO_SQARRAY (Linux 6.6)";
            default -> "IORING_SETUP flag 0x" + Integer.toHexString(flag);
        };
    }

    /** E.g. "SQE128|SINGLE_ISSUER". */
    public static String describeSetup(int flags) {
        if (flags == 0) {
            return "none";
        }
        StringJoiner j = new StringJoiner("|");
        for (int bit = 0; bit < 32; bit++) {
            int f = 1 << bit;
            if ((flags & f) != 0) {
                String n = setupFlagName(f);
                int space = n.indexOf(' ');
                j.add((space > 0 ? n.substring(0, space) : n).replace("IORING_SETUP_", ""));
            }
        }
        return j.toString();
    }
}
