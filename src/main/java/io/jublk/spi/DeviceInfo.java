package io.jublk.spi;

import io.jublk.uapi.Ublk;
import io.jublk.uapi.UblkFeature;
import io.jublk.uapi.UblksrvCtrlDevInfo;
import io.jublk.uapi.UblksrvIoDesc;
import java.lang.foreign.MemorySegment;
import java.util.List;

/** A device as the kernel describes it ({@code struct ublksrv_ctrl_dev_info}). */
public record DeviceInfo(int devId, int nrHwQueues, int queueDepth, int state, int ioDescSize, int maxIoBufBytes,
        int ublksrvPid, long flags, long ublksrvFlags, int ownerUid, int ownerGid) {

    /** From the kernel's {@code struct ublksrv_ctrl_dev_info} (the control plane reads it). */
    public static DeviceInfo decode(MemorySegment s) {
        int descSize = UblksrvCtrlDevInfo.ioDescSize(s);
        return new DeviceInfo(UblksrvCtrlDevInfo.devId(s), UblksrvCtrlDevInfo.nrHwQueues(s),
                UblksrvCtrlDevInfo.queueDepth(s), UblksrvCtrlDevInfo.state(s),
                // Before 7.3 the field was padding and reads 0: the descriptor then has its classic size.
                descSize != 0 ? descSize : (int) UblksrvIoDesc.SIZE,
                UblksrvCtrlDevInfo.maxIoBufBytes(s), UblksrvCtrlDevInfo.ublksrvPid(s), UblksrvCtrlDevInfo.flags(s),
                UblksrvCtrlDevInfo.ublksrvFlags(s), UblksrvCtrlDevInfo.ownerUid(s), UblksrvCtrlDevInfo.ownerGid(s));
    }

    /** "live", "dead", "quiesced" or "fail_io" (UBLK_S_DEV_*). */
    public String stateName() {
        return switch (state) {
            case Ublk.UBLK_S_DEV_DEAD -> "dead";
            case Ublk.UBLK_S_DEV_LIVE -> "live";
            case Ublk.UBLK_S_DEV_QUIESCED -> "quiesced";
            case Ublk.UBLK_S_DEV_FAIL_IO -> "fail_io";
            default -> "state" + state;
        };
    }

    public boolean has(long feature) {
        return (flags & feature) != 0;
    }

    public List<String> flagNames() {
        return UblkFeature.decode(flags);
    }

    public String blockDevice() {
        return "/dev/ublkb" + devId;
    }

    public String charDevice() {
        return "/dev/ublkc" + devId;
    }
}
