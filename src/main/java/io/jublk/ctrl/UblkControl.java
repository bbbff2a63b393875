package io.jublk.ctrl;

import io.jublk.spi.DeviceParams;
import io.jublk.spi.DeviceInfo;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_SQE128;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.jublk.sys.Errno;
import io.jublk.sys.Fd;
import io.jublk.sys.NativeException;
import io.jublk.uapi.LinuxUapi;
import io.jublk.uapi.Ublk;
import io.jublk.uapi.UblkParams;
import io.jublk.uapi.UblksrvCtrlCmd;
import io.jublk.uapi.UblksrvCtrlDevInfo;
import io.jublk.uring.CompletionHandler;
import io.jublk.uring.IoUring;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The control plane: {@code /dev/ublk-control} and a small SQE128 ring that sends it {@code URING_CMD}s
 * with the ioctl-encoded {@code UBLK_U_CMD_*} opcodes, one at a time.
 *
 * <p>Commands are synchronous. START_DEV blocks in the kernel until every tag of every queue has a
 * FETCH_REQ outstanding, so it must be sent from a thread that is not a queue thread. Methods are
 * synchronized: one command in flight per control object.
 */
public final class UblkControl implements AutoCloseable {
    public static final Path CONTROL_DEVICE = Path.of("/dev/ublk-control");
    /** "no particular device / queue" in a command header. */
    public static final int ANY_DEV = -1;
    private static final int NO_QUEUE = 0xffff;

    private final Fd control;
    private final IoUring ring;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment buf = arena.allocate(4096, 64);
    private final Result result = new Result();

    private UblkControl(Fd control, IoUring ring) {
        this.control = control;
        this.ring = ring;
    }

    /** Opens the control device; {@code ENOENT} means the kernel has no ublk driver loaded. */
    public static UblkControl open() {
        Fd fd = Fd.open(CONTROL_DEVICE, LinuxUapi.O_RDWR | LinuxUapi.O_CLOEXEC, 0, "open " + CONTROL_DEVICE);
        try {
            // Control commands carry a 32-byte ublksrv_ctrl_cmd: only a 128-byte SQE has room (EINVAL otherwise).
            return new UblkControl(fd, IoUring.open(4, 0, IORING_SETUP_SQE128, 0, false));
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    public static boolean available() {
        return Files.exists(CONTROL_DEVICE);
    }

    private static final class Result implements CompletionHandler {
        int res;
        boolean done;

        @Override
        public void onCompletion(long userData, int res, int flags) {
            this.res = res;
            this.done = true;
        }
    }

    /**
     * Sends one command and returns the kernel's non-negative result; throws {@link NativeException} naming
     * {@code what} otherwise.
     */
    private int command(int cmdOp, String name, int devId, int queueId, int len, long addr, long data0) {
        String what = name + " for " + (queueId != NO_QUEUE ? "device " + devId + " queue " + queueId : dev(devId));
        long sqe = ring.sqe();
        long cmd = ring.prepUringCmd(sqe, control.get(), cmdOp, cmdOp);
        UblksrvCtrlCmd.write(ring.sqes(), cmd, devId, queueId, len, addr, data0);
        result.done = false;
        while (!result.done) {
            int r = ring.submitAndWait(1);
            if (r < 0 && r != -Errno.EAGAIN && r != -Errno.EBUSY) {
                throw new NativeException(r, what + " (io_uring_enter)");
            }
            ring.forEachCompletion(result);
        }
        if (result.res < 0) {
            throw new UblkCommandException(name, devId, result.res, what);
        }
        return result.res;
    }

    private static String dev(int devId) {
        return devId == ANY_DEV ? "a new device" : "device " + devId;
    }

    /** UBLK_U_CMD_GET_FEATURES: the UBLK_F_* flags this kernel supports. */
    public synchronized long getFeatures() {
        buf.set(JAVA_LONG, 0, 0L);
        command(Ublk.UBLK_U_CMD_GET_FEATURES, "GET_FEATURES", ANY_DEV, NO_QUEUE, Ublk.UBLK_FEATURES_LEN, buf.address(),
                0);
        return buf.get(JAVA_LONG, 0);
    }

    /**
     * UBLK_U_CMD_ADD_DEV. {@code devId} -1 lets the kernel choose. {@code ublksrvFlags} is the server's own: the
     * kernel keeps it untouched and returns it with every GET_DEV_INFO. Returns the device as created: the kernel
     * writes back the id, final flags (it adds some of its own), queue count (clamped to the CPUs) and the
     * descriptor size.
     */
    public synchronized DeviceInfo addDev(int devId, int queues, int depth, int maxIoBufBytes, long flags,
            long ublksrvFlags) {
        MemorySegment info = buf.asSlice(0, UblksrvCtrlDevInfo.SIZE);
        UblksrvCtrlDevInfo.writeForAdd(info, devId, queues, depth, maxIoBufBytes, flags, ublksrvFlags);
        command(Ublk.UBLK_U_CMD_ADD_DEV, "ADD_DEV", devId, NO_QUEUE, (int) UblksrvCtrlDevInfo.SIZE, info.address(), 0);
        return DeviceInfo.decode(info);
    }

    /** UBLK_U_CMD_GET_DEV_INFO. */
    public synchronized DeviceInfo getDevInfo(int devId) {
        MemorySegment info = buf.asSlice(0, UblksrvCtrlDevInfo.SIZE);
        info.fill((byte) 0);
        command(Ublk.UBLK_U_CMD_GET_DEV_INFO, "GET_DEV_INFO", devId, NO_QUEUE, (int) UblksrvCtrlDevInfo.SIZE,
                info.address(), 0);
        return DeviceInfo.decode(info);
    }

    /** UBLK_U_CMD_SET_PARAMS; allowed before START_DEV. */
    public synchronized void setParams(int devId, DeviceParams params) {
        MemorySegment p = buf.asSlice(0, UblkParams.SIZE);
        params.encode(p);
        command(Ublk.UBLK_U_CMD_SET_PARAMS, "SET_PARAMS", devId, NO_QUEUE, (int) UblkParams.SIZE, p.address(), 0);
    }

    /** UBLK_U_CMD_GET_PARAMS (includes devt, the block device number, once started). */
    public synchronized DeviceParams getParams(int devId) {
        MemorySegment p = buf.asSlice(0, UblkParams.SIZE);
        p.fill((byte) 0);
        p.set(java.lang.foreign.ValueLayout.JAVA_INT, UblkParams.LEN, (int) UblkParams.SIZE);
        command(Ublk.UBLK_U_CMD_GET_PARAMS, "GET_PARAMS", devId, NO_QUEUE, (int) UblkParams.SIZE, p.address(), 0);
        return DeviceParams.decode(p);
    }

    /** UBLK_U_CMD_GET_QUEUE_AFFINITY: the CPUs blk-mq maps to queue {@code queueId}. */
    public synchronized List<Integer> getQueueAffinity(int devId, int queueId) {
        int len = 128; // a cpumask of 1024 CPUs
        MemorySegment mask = buf.asSlice(0, len);
        mask.fill((byte) 0);
        // The kernel takes the queue from data[0] (queue_id is only checked by ADD_DEV); len must be a multiple
        // of 8 covering nr_cpu_ids.
        command(Ublk.UBLK_U_CMD_GET_QUEUE_AFFINITY, "GET_QUEUE_AFFINITY", devId, queueId, len, mask.address(), queueId);
        List<Integer> cpus = new ArrayList<>();
        for (int cpu = 0; cpu < len * 8; cpu++) {
            if ((mask.get(java.lang.foreign.ValueLayout.JAVA_BYTE, cpu / 8) & (1 << (cpu % 8))) != 0) {
                cpus.add(cpu);
            }
        }
        return cpus;
    }

    /**
     * UBLK_U_CMD_START_DEV. Blocks until every queue has fetched every tag. {@code pid} must be the server's
     * process id (getpid), not a thread id: the kernel checks it against the fetching tasks' thread group.
     */
    public void startDev(int devId, int pid) {
        synchronized (this) {
            command(Ublk.UBLK_U_CMD_START_DEV, "START_DEV", devId, NO_QUEUE, 0, 0, pid);
        }
    }

    /** UBLK_U_CMD_STOP_DEV: removes the block device; outstanding fetches complete with UBLK_IO_RES_ABORT. */
    public synchronized void stopDev(int devId) {
        command(Ublk.UBLK_U_CMD_STOP_DEV, "STOP_DEV", devId, NO_QUEUE, 0, 0, 0);
    }

    /**
     * UBLK_U_CMD_DEL_DEV. The kernel waits until nobody holds {@code /dev/ublkcN} (no open descriptor, no
     * mapping of its descriptor array), so unmap and close before calling this.
     */
    public synchronized void delDev(int devId) {
        command(Ublk.UBLK_U_CMD_DEL_DEV, "DEL_DEV", devId, NO_QUEUE, 0, 0, 0);
    }

    /** UBLK_U_CMD_DEL_DEV_ASYNC: like DEL_DEV, but does not wait for the char device to be released. */
    public synchronized void delDevAsync(int devId) {
        command(Ublk.UBLK_U_CMD_DEL_DEV_ASYNC, "DEL_DEV_ASYNC", devId, NO_QUEUE, 0, 0, 0);
    }

    /**
     * UBLK_U_CMD_UPDATE_SIZE: the live device's capacity becomes {@code sectors} (512-byte units); the kernel tells
     * the block layer, which tells user space (a uevent), so a file system on it can grow.
     */
    public synchronized void updateSize(int devId, long sectors) {
        command(Ublk.UBLK_U_CMD_UPDATE_SIZE, "UPDATE_SIZE", devId, NO_QUEUE, 0, 0, sectors);
    }

    /**
     * UBLK_U_CMD_TRY_STOP_DEV: STOP_DEV only if nobody has the block device open (a mounted file system holds it);
     * EBUSY otherwise, and the device goes on.
     */
    public synchronized void tryStopDev(int devId) {
        command(Ublk.UBLK_U_CMD_TRY_STOP_DEV, "TRY_STOP_DEV", devId, NO_QUEUE, 0, 0, 0);
    }

    /**
     * UBLK_U_CMD_QUIESCE_DEV (a device with UBLK_F_QUIESCE): the kernel stops handing requests to the server (new ones
     * wait in the block layer), waits up to {@code timeoutMillis} (0: for ever) until each queue has a command that
     * holds no request, and completes every such command with UBLK_IO_RES_ABORT. The device stays live until its
     * server closes {@code /dev/ublkcN}; it is then quiesced, and waits for a new server (START_USER_RECOVERY). EBUSY
     * when the wait timed out: the kernel still hands out nothing new.
     */
    public synchronized void quiesceDev(int devId, long timeoutMillis) {
        command(Ublk.UBLK_U_CMD_QUIESCE_DEV, "QUIESCE_DEV", devId, NO_QUEUE, 0, 0, timeoutMillis);
    }

    /** UBLK_U_CMD_START_USER_RECOVERY: a device whose server died (state quiesced) may be taken over. */
    public synchronized void startUserRecovery(int devId) {
        command(Ublk.UBLK_U_CMD_START_USER_RECOVERY, "START_USER_RECOVERY", devId, NO_QUEUE, 0, 0, 0);
    }

    /** UBLK_U_CMD_END_USER_RECOVERY with the new server's process id; blocks until its queues fetched. */
    public void endUserRecovery(int devId, int pid) {
        synchronized (this) {
            command(Ublk.UBLK_U_CMD_END_USER_RECOVERY, "END_USER_RECOVERY", devId, NO_QUEUE, 0, 0, pid);
        }
    }

    /**
     * Removes the device without waiting for its last user: DEL_DEV_ASYNC where the kernel has it, else
     * DEL_DEV. DEL_DEV waits until every reference to the device is gone — a file system still mounted on
     * the (already stopped) block device is one — so a server that used it could not exit before the
     * unmount. The id becomes free once the last reference goes.
     */
    public void delete(int devId) {
        try {
            delDevAsync(devId);
        } catch (NativeException e) {
            if (e.errno() != Errno.EINVAL && e.errno() != Errno.EOPNOTSUPP && e.errno() != Errno.ENOTTY) {
                throw e;
            }
            delDev(devId);
        }
    }

    /** The ids of existing ublk devices, from their char devices. */
    public static List<Integer> listDeviceIds() {
        List<Integer> ids = new ArrayList<>();
        Path sys = Path.of("/sys/class/ublk-char-dev");
        try (var stream = Files.list(Files.isDirectory(sys) ? sys : Path.of("/dev"))) {
            stream.map(p -> p.getFileName().toString())
                    .filter(n -> n.matches("ublkc\\d+"))
                    .map(n -> Integer.parseInt(n.substring(5)))
                    .sorted()
                    .forEach(ids::add);
        } catch (java.io.IOException e) {
            // No ublk class: no devices.
        }
        return ids;
    }

    @Override
    public synchronized void close() {
        try {
            ring.close();
        } finally {
            control.close();
            arena.close();
        }
    }
}
