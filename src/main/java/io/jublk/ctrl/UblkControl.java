package io.jublk.ctrl;

import io.jublk.spi.DeviceParams;
import io.jublk.spi.DeviceInfo;
import static io.jublk.uapi.IoUringUapi.IORING_SETUP_SQE128;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.jublk.sys.Capabilities;
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
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The control plane: {@code /dev/ublk-control} and a small SQE128 ring that sends it {@code URING_CMD}s
 * with the ioctl-encoded {@code UBLK_U_CMD_*} opcodes, one at a time.
 *
 * <p>Commands are synchronous. START_DEV blocks in the kernel until every tag of every queue has a
 * FETCH_REQ outstanding, so it must be sent from a thread that is not a queue thread. Methods are
 * synchronized: one command in flight per control object.
 *
 * <p>Unprivileged devices (UBLK_F_UNPRIVILEGED_DEV): a caller without CAP_SYS_ADMIN can only ADD_DEV one, and the
 * kernel then wants every later command on it to name its char device ({@code dev_path_len}, the path at the head of
 * the command's buffer) and checks the caller's access to that node: read for GET_DEV_INFO(2), GET_PARAMS and
 * GET_QUEUE_AFFINITY, read and write for the rest. The node belongs to root until udev gives it to the device's owner
 * (jublk's rules, {@code dist/udev/70-jublk-unprivileged.rules}). Root must name the node too when it acts on a user's device; GET_DEV_INFO2 takes the
 * path for every device, so it is how root learns which kind a device is.
 */
public final class UblkControl implements AutoCloseable {
    public static final Path CONTROL_DEVICE = Path.of("/dev/ublk-control");
    /** "no particular device / queue" in a command header. */
    public static final int ANY_DEV = -1;
    private static final int NO_QUEUE = 0xffff;

    /** Room before a command's payload for the char device's path: "/dev/ublkc" + up to 7 digits + NUL. */
    private static final int PATH_ROOM = 64;

    private final Fd control;
    private final IoUring ring;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment buf = arena.allocate(4096, 64);
    /** Where each command's payload goes; the path, when there is one, ends right before it. */
    private final MemorySegment payload = buf.asSlice(PATH_ROOM);
    private final Result result = new Result();
    private final boolean privileged = Capabilities.sysAdmin();
    /** Per device id seen by this object: whether it is UBLK_F_UNPRIVILEGED_DEV (its commands then carry the path). */
    private final Map<Integer, Boolean> unprivileged = new HashMap<>();

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

    /** Whether this process has CAP_SYS_ADMIN: without it only unprivileged devices can be added or acted on. */
    public boolean privileged() {
        return privileged;
    }

    /**
     * Sends one command about device {@code devId} (its payload, {@code len} bytes, in {@link #payload}), naming the
     * char device when the device is unprivileged; returns the kernel's non-negative result.
     */
    private int command(int cmdOp, String name, int devId, int queueId, int len, long data0) {
        return command(cmdOp, name, devId, queueId, len, data0, devId != ANY_DEV && needsPath(devId));
    }

    /** Whether commands on {@code devId} must name its char device; root asks the kernel once (GET_DEV_INFO2). */
    private boolean needsPath(int devId) {
        if (!privileged) {
            return true; // the kernel lets an unprivileged caller act only on unprivileged devices
        }
        Boolean known = unprivileged.get(devId);
        return known != null ? known : getDevInfo(devId).has(Ublk.UBLK_F_UNPRIVILEGED_DEV);
    }

    /**
     * Sends one command and returns the kernel's non-negative result; throws {@link NativeException} naming
     * {@code what} otherwise. With {@code withPath}, {@code /dev/ublkcN} is written right before the payload and the
     * command's buffer starts there (the kernel checks the caller's access to it, then skips it).
     */
    private int command(int cmdOp, String name, int devId, int queueId, int len, long data0, boolean withPath) {
        String what = name + " for " + (queueId != NO_QUEUE ? "device " + devId + " queue " + queueId : dev(devId));
        long addr = len > 0 ? payload.address() : 0;
        int pathLen = 0;
        if (withPath) {
            byte[] path = (charDevice(devId) + "\0").getBytes(StandardCharsets.US_ASCII);
            pathLen = path.length;
            MemorySegment.copy(MemorySegment.ofArray(path), 0, buf, PATH_ROOM - pathLen, pathLen);
            addr = payload.address() - pathLen;
            len += pathLen;
        }
        IoUring.Sqe sqe = ring.next().uringCmd(control.get(), cmdOp).userData(cmdOp);
        UblksrvCtrlCmd.write(sqe.memory(), sqe.cmd(), devId, queueId, len, addr, data0, pathLen);
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

    /** {@code /dev/ublkcN}: the node the kernel checks an unprivileged caller's access to. */
    public static String charDevice(int devId) {
        return "/dev/ublkc" + devId;
    }

    private static String dev(int devId) {
        return devId == ANY_DEV ? "a new device" : "device " + devId;
    }

    /** UBLK_U_CMD_GET_FEATURES: the UBLK_F_* flags this kernel supports. */
    public synchronized long getFeatures() {
        payload.set(JAVA_LONG, 0, 0L);
        command(Ublk.UBLK_U_CMD_GET_FEATURES, "GET_FEATURES", ANY_DEV, NO_QUEUE, Ublk.UBLK_FEATURES_LEN, 0, false);
        return payload.get(JAVA_LONG, 0);
    }

    /**
     * UBLK_U_CMD_ADD_DEV. {@code devId} -1 lets the kernel choose. {@code ublksrvFlags} is the server's own: the
     * kernel keeps it untouched and returns it with every GET_DEV_INFO. Returns the device as created: the kernel
     * writes back the id, final flags (it adds some of its own), queue count (clamped to the CPUs) and the
     * descriptor size. Without CAP_SYS_ADMIN the device is asked for as UBLK_F_UNPRIVILEGED_DEV (the kernel refuses
     * anything else), owned by this process's uid and gid; its char device is root's until udev hands it over.
     */
    public synchronized DeviceInfo addDev(int devId, int queues, int depth, int maxIoBufBytes, long flags,
            long ublksrvFlags) {
        MemorySegment info = payload.asSlice(0, UblksrvCtrlDevInfo.SIZE);
        long asked = privileged ? flags : flags | Ublk.UBLK_F_UNPRIVILEGED_DEV;
        UblksrvCtrlDevInfo.writeForAdd(info, devId, queues, depth, maxIoBufBytes, asked, ublksrvFlags);
        command(Ublk.UBLK_U_CMD_ADD_DEV, "ADD_DEV", devId, NO_QUEUE, (int) UblksrvCtrlDevInfo.SIZE, 0, false);
        DeviceInfo added = DeviceInfo.decode(info);
        unprivileged.put(added.devId(), added.has(Ublk.UBLK_F_UNPRIVILEGED_DEV));
        return added;
    }

    /**
     * UBLK_U_CMD_GET_DEV_INFO2, which names the char device whatever the kind of device; root falls back to
     * GET_DEV_INFO where that fails (a kernel before GET_DEV_INFO2, no node at /dev/ublkcN in this namespace).
     * Without CAP_SYS_ADMIN: EPERM for a device root added, EACCES for another user's (its node is not ours).
     */
    public synchronized DeviceInfo getDevInfo(int devId) {
        MemorySegment info = payload.asSlice(0, UblksrvCtrlDevInfo.SIZE);
        info.fill((byte) 0);
        try {
            command(Ublk.UBLK_U_CMD_GET_DEV_INFO2, "GET_DEV_INFO2", devId, NO_QUEUE, (int) UblksrvCtrlDevInfo.SIZE, 0,
                    true);
        } catch (UblkCommandException e) {
            if (!privileged || e.errno() == Errno.ENODEV) {
                throw e;
            }
            info.fill((byte) 0);
            command(Ublk.UBLK_U_CMD_GET_DEV_INFO, "GET_DEV_INFO", devId, NO_QUEUE, (int) UblksrvCtrlDevInfo.SIZE, 0,
                    false);
        }
        DeviceInfo d = DeviceInfo.decode(info);
        unprivileged.put(devId, d.has(Ublk.UBLK_F_UNPRIVILEGED_DEV));
        return d;
    }

    /** UBLK_U_CMD_SET_PARAMS; allowed before START_DEV. */
    public synchronized void setParams(int devId, DeviceParams params) {
        MemorySegment p = payload.asSlice(0, UblkParams.SIZE);
        boolean path = needsPath(devId);
        params.encode(p);
        command(Ublk.UBLK_U_CMD_SET_PARAMS, "SET_PARAMS", devId, NO_QUEUE, (int) UblkParams.SIZE, 0, path);
    }

    /** UBLK_U_CMD_GET_PARAMS (includes devt, the block device number, once started). */
    public synchronized DeviceParams getParams(int devId) {
        MemorySegment p = payload.asSlice(0, UblkParams.SIZE);
        boolean path = needsPath(devId);
        p.fill((byte) 0);
        p.set(java.lang.foreign.ValueLayout.JAVA_INT, UblkParams.LEN, (int) UblkParams.SIZE);
        command(Ublk.UBLK_U_CMD_GET_PARAMS, "GET_PARAMS", devId, NO_QUEUE, (int) UblkParams.SIZE, 0, path);
        return DeviceParams.decode(p);
    }

    /** UBLK_U_CMD_GET_QUEUE_AFFINITY: the CPUs blk-mq maps to queue {@code queueId}. */
    public synchronized List<Integer> getQueueAffinity(int devId, int queueId) {
        int len = 128; // a cpumask of 1024 CPUs
        MemorySegment mask = payload.asSlice(0, len);
        boolean path = needsPath(devId);
        mask.fill((byte) 0);
        // The kernel takes the queue from data[0] (queue_id is only checked by ADD_DEV); len must be a multiple
        // of 8 covering nr_cpu_ids.
        command(Ublk.UBLK_U_CMD_GET_QUEUE_AFFINITY, "GET_QUEUE_AFFINITY", devId, queueId, len, queueId, path);
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
            command(Ublk.UBLK_U_CMD_START_DEV, "START_DEV", devId, NO_QUEUE, 0, pid);
        }
    }

    /** UBLK_U_CMD_STOP_DEV: removes the block device; outstanding fetches complete with UBLK_IO_RES_ABORT. */
    public synchronized void stopDev(int devId) {
        command(Ublk.UBLK_U_CMD_STOP_DEV, "STOP_DEV", devId, NO_QUEUE, 0, 0);
    }

    /**
     * UBLK_U_CMD_DEL_DEV. The kernel waits until nobody holds {@code /dev/ublkcN} (no open descriptor, no
     * mapping of its descriptor array), so unmap and close before calling this.
     */
    public synchronized void delDev(int devId) {
        command(Ublk.UBLK_U_CMD_DEL_DEV, "DEL_DEV", devId, NO_QUEUE, 0, 0);
        unprivileged.remove(devId);
    }

    /**
     * UBLK_U_CMD_DEL_DEV_ASYNC: like DEL_DEV, but does not wait for the char device to be released. The 7.3 kernel
     * refuses it (EINVAL) for an unprivileged device: its permission check does not list it.
     */
    public synchronized void delDevAsync(int devId) {
        command(Ublk.UBLK_U_CMD_DEL_DEV_ASYNC, "DEL_DEV_ASYNC", devId, NO_QUEUE, 0, 0);
        unprivileged.remove(devId);
    }

    /**
     * UBLK_U_CMD_UPDATE_SIZE: the live device's capacity becomes {@code sectors} (512-byte units); the kernel tells
     * the block layer, which tells user space (a uevent), so a file system on it can grow.
     */
    public synchronized void updateSize(int devId, long sectors) {
        command(Ublk.UBLK_U_CMD_UPDATE_SIZE, "UPDATE_SIZE", devId, NO_QUEUE, 0, sectors);
    }

    /**
     * UBLK_U_CMD_TRY_STOP_DEV: STOP_DEV only if nobody has the block device open (a mounted file system holds it);
     * EBUSY otherwise, and the device goes on.
     */
    public synchronized void tryStopDev(int devId) {
        command(Ublk.UBLK_U_CMD_TRY_STOP_DEV, "TRY_STOP_DEV", devId, NO_QUEUE, 0, 0);
    }

    /**
     * UBLK_U_CMD_QUIESCE_DEV (a device with UBLK_F_QUIESCE): the kernel stops handing requests to the server (new ones
     * wait in the block layer), waits up to {@code timeoutMillis} (0: for ever) until each queue has a command that
     * holds no request, and completes every such command with UBLK_IO_RES_ABORT. The device stays live until its
     * server closes {@code /dev/ublkcN}; it is then quiesced, and waits for a new server (START_USER_RECOVERY). EBUSY
     * when the wait timed out: the kernel still hands out nothing new.
     */
    public synchronized void quiesceDev(int devId, long timeoutMillis) {
        command(Ublk.UBLK_U_CMD_QUIESCE_DEV, "QUIESCE_DEV", devId, NO_QUEUE, 0, timeoutMillis);
    }

    /** UBLK_U_CMD_START_USER_RECOVERY: a device whose server died (state quiesced) may be taken over. */
    public synchronized void startUserRecovery(int devId) {
        command(Ublk.UBLK_U_CMD_START_USER_RECOVERY, "START_USER_RECOVERY", devId, NO_QUEUE, 0, 0);
    }

    /** UBLK_U_CMD_END_USER_RECOVERY with the new server's process id; blocks until its queues fetched. */
    public void endUserRecovery(int devId, int pid) {
        synchronized (this) {
            command(Ublk.UBLK_U_CMD_END_USER_RECOVERY, "END_USER_RECOVERY", devId, NO_QUEUE, 0, pid);
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

    /**
     * The ids of existing ublk devices, from their char devices: the kernel's class {@code ublk-char} (also the udev
     * SUBSYSTEM of {@code /dev/ublkcN}), else the nodes in {@code /dev}.
     */
    public static List<Integer> listDeviceIds() {
        List<Integer> ids = new ArrayList<>();
        Path sys = Path.of("/sys/class/ublk-char");
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
