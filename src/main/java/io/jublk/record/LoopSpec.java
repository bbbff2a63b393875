package io.jublk.record;

import io.jublk.spi.ConfigException;
import io.jublk.spi.Target;
import io.jublk.targets.BackingFile;
import io.jublk.targets.LoopTarget;
import io.jublk.uapi.Ublk;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The loop target: the backing file and how it is served. Once opened, {@code identity} says which file it is
 * (real path, device, inode, birth time, size) and {@code created} whether `ublk add` created it.
 *
 * @param file        the path as given, made absolute (the daemon's working directory plays no part later)
 * @param size        the device size asked for, or null for the file's
 * @param mode        "direct" or "buffered" as asked; the identity's open may have fallen back
 * @param readOnly    served read-only
 * @param allowShared another jublk device may serve the same file
 * @param zeroCopy    UBLK_F_AUTO_BUF_REG
 * @param servedMode  the mode actually used, once opened
 * @param identity    the file the device was created with, once opened
 * @param created     whether `ublk add` created the file
 */
public record LoopSpec(String file, Long size, String mode, boolean readOnly, boolean allowShared, boolean zeroCopy,
        String servedMode, BackingFile.Identity identity, boolean created) implements TargetSpec {

    public static LoopSpec of(Path file, Long size, BackingFile.Mode mode, boolean readOnly, boolean allowShared,
            boolean zeroCopy) {
        return new LoopSpec(file.toAbsolutePath().toString(), size, mode.label(), readOnly, allowShared, zeroCopy, null,
                null, false);
    }

    private BackingFile.Mode modeValue() {
        return BackingFile.Mode.valueOf(mode.toUpperCase(java.util.Locale.ROOT));
    }

    private LoopTarget.Config config(DeviceSpec device, Long deviceSize, Integer lbs) {
        return new LoopTarget.Config(Path.of(file), deviceSize, modeValue(), readOnly, lbs, allowShared);
    }

    @Override
    public String kind() {
        return "loop";
    }

    @Override
    public long deviceFlags() {
        return zeroCopy ? Ublk.UBLK_F_AUTO_BUF_REG : 0;
    }

    @Override
    public void check(DeviceSpec device) {
        LoopTarget.check(config(device, size, device.logicalBlockSize()));
    }

    @Override
    public Opened open(DeviceSpec device) {
        LoopTarget t = LoopTarget.open(config(device, size, device.logicalBlockSize()));
        BackingFile f = t.backingFile();
        LoopSpec resolved = new LoopSpec(file, size, mode, readOnly, allowShared, zeroCopy, f.mode().label(),
                f.identity(), f.created());
        return new Opened(t, resolved, t.warnings());
    }

    @Override
    public Target reopen(DeviceSpec device, long deviceSize, int logicalBlockSize) {
        if (identity == null) {
            throw new ConfigException("the record of this device does not say which file it was created with: "
                    + "not guessing");
        }
        LoopSpec served = new LoopSpec(file, size, servedMode != null ? servedMode : mode, readOnly, allowShared,
                zeroCopy, servedMode, identity, created);
        return LoopTarget.reopen(served.config(device, deviceSize, logicalBlockSize), identity, deviceSize,
                logicalBlockSize);
    }

    @Override
    public void undoCreate(Target target) {
        if (target instanceof LoopTarget t) {
            t.removeIfCreated();
        }
    }

    @Override
    public void forgetCreated() {
        if (created && identity != null) {
            BackingFile.removeIfIdentical(identity);
        }
    }

    @Override
    public Map<String, Object> describe() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("file", identity != null ? identity.path() : file);
        m.put("mode", servedMode != null ? servedMode : mode);
        return m;
    }
}
