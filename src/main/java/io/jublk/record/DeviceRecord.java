package io.jublk.record;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Instant;

/**
 * What jublk knows about one of its devices, kept as {@code ublkN.json} in the run directory from before ADD_DEV
 * until just before DEL_DEV: what the device serves (the {@link DeviceSpec}, with the backing file's identity),
 * what the kernel made of it, and which process serves it. `ublk list`, `del` and `recover` read it; a new server
 * recovering the device is built from it, never from a command line.
 *
 * @param format  the record format; a reader refuses a newer one
 * @param id      the device id
 * @param name    the declaration it was started from ({@code ublk up NAME}), or null
 * @param serial  its stable identity, a UUID (udev names it {@code /dev/disk/by-id/ublk-SERIAL}), or null in records
 *                written before devices had one
 * @param token   the 64-bit stamp this server put in the device's {@code ublksrv_flags} at ADD_DEV, as hex: a kernel
 *                device with another stamp is not the device this record describes
 * @param state   where the device's life is
 * @param server  the process serving it (or starting, or stopping it)
 * @param spec    what the device serves and how
 * @param device  the kernel's view once the device is live, else null
 * @param log     the server's log file
 * @param created when the device was added
 * @param updated when this record was last written
 */
public record DeviceRecord(int format, int id,
        // Written only when set: records from before these fields read and write back unchanged.
        @JsonInclude(JsonInclude.Include.NON_NULL) String name,
        @JsonInclude(JsonInclude.Include.NON_NULL) String serial,
        String token, State state, ServerProcess server, DeviceSpec spec,
        KernelDevice device, String log, Instant created, Instant updated) {

    public static final int FORMAT = 1;

    public enum State {
        /** Claimed, being created: no device yet, or one that never served. */
        @JsonProperty("starting") STARTING,
        @JsonProperty("live") LIVE,
        /** A new server is taking the device over. */
        @JsonProperty("recovering") RECOVERING,
        @JsonProperty("stopping") STOPPING,
        /** Stopped; the server is flushing the backing store (never killed in this state). */
        @JsonProperty("flushing") FLUSHING;

        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * The device as the kernel has it.
     *
     * @param flags UBLK_F_* as the kernel settled them, hex
     */
    public record KernelDevice(long size, int logicalBlockSize, int queues, int depth, int maxIoBytes, String flags) {}

    public long tokenValue() {
        return Long.parseUnsignedLong(token.substring(2), 16);
    }

    public static String token(long value) {
        return "0x" + Long.toHexString(value);
    }

    public DeviceRecord with(State s) {
        return new DeviceRecord(format, id, name, serial, token, s, server, spec, device, log, created, Instant.now());
    }

    public DeviceRecord with(State s, ServerProcess p, DeviceSpec sp, KernelDevice d, String l) {
        return new DeviceRecord(format, id, name, serial, token, s, p, sp, d, l, created, Instant.now());
    }

    /** The same record for another device id (a claim fills in the id it got). */
    public DeviceRecord withId(int newId) {
        return new DeviceRecord(format, newId, name, serial, token, state, server, spec, device, log, created, updated);
    }
}
