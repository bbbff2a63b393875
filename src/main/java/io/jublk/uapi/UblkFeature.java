package io.jublk.uapi;

import java.util.ArrayList;
import java.util.List;

/** The UBLK_F_* feature flags with their kernel names, for decoding a feature mask. */
public enum UblkFeature {
    SUPPORT_ZERO_COPY(Ublk.UBLK_F_SUPPORT_ZERO_COPY),
    URING_CMD_COMP_IN_TASK(Ublk.UBLK_F_URING_CMD_COMP_IN_TASK),
    NEED_GET_DATA(Ublk.UBLK_F_NEED_GET_DATA),
    USER_RECOVERY(Ublk.UBLK_F_USER_RECOVERY),
    USER_RECOVERY_REISSUE(Ublk.UBLK_F_USER_RECOVERY_REISSUE),
    UNPRIVILEGED_DEV(Ublk.UBLK_F_UNPRIVILEGED_DEV),
    CMD_IOCTL_ENCODE(Ublk.UBLK_F_CMD_IOCTL_ENCODE),
    USER_COPY(Ublk.UBLK_F_USER_COPY),
    ZONED(Ublk.UBLK_F_ZONED),
    USER_RECOVERY_FAIL_IO(Ublk.UBLK_F_USER_RECOVERY_FAIL_IO),
    UPDATE_SIZE(Ublk.UBLK_F_UPDATE_SIZE),
    AUTO_BUF_REG(Ublk.UBLK_F_AUTO_BUF_REG),
    QUIESCE(Ublk.UBLK_F_QUIESCE),
    PER_IO_DAEMON(Ublk.UBLK_F_PER_IO_DAEMON),
    BUF_REG_OFF_DAEMON(Ublk.UBLK_F_BUF_REG_OFF_DAEMON),
    BATCH_IO(Ublk.UBLK_F_BATCH_IO),
    INTEGRITY(Ublk.UBLK_F_INTEGRITY),
    SAFE_STOP_DEV(Ublk.UBLK_F_SAFE_STOP_DEV),
    NO_AUTO_PART_SCAN(Ublk.UBLK_F_NO_AUTO_PART_SCAN),
    SHMEM_ZC(Ublk.UBLK_F_SHMEM_ZC),
    IO_DESC_SIZE(Ublk.UBLK_F_IO_DESC_SIZE);

    private final long mask;

    UblkFeature(long mask) {
        this.mask = mask;
    }

    public long mask() {
        return mask;
    }

    public int bit() {
        return Long.numberOfTrailingZeros(mask);
    }

    /** The kernel's macro name, e.g. {@code UBLK_F_USER_RECOVERY}. */
    public String macroName() {
        return "UBLK_F_" + name();
    }

    /** Names of the set bits; a bit this build does not know is shown as {@code BIT_n}. */
    public static List<String> decode(long flags) {
        List<String> names = new ArrayList<>();
        for (int bit = 0; bit < 64; bit++) {
            long m = 1L << bit;
            if ((flags & m) == 0) {
                continue;
            }
            UblkFeature f = ofMask(m);
            names.add(f != null ? f.name() : "BIT_" + bit);
        }
        return names;
    }

    public static UblkFeature ofMask(long mask) {
        for (UblkFeature f : values()) {
            if (f.mask == mask) {
                return f;
            }
        }
        return null;
    }
}
