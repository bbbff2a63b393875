package io.jublk.record;

import io.jublk.spi.ConfigException;
import io.jublk.spi.Target;
import io.jublk.targets.NullTarget;
import java.util.List;
import java.util.Map;

/** The null target: its size. */
public record NullSpec(long size) implements TargetSpec {
    @Override
    public String kind() {
        return "null";
    }

    @Override
    public long deviceFlags() {
        return 0;
    }

    @Override
    public void check(DeviceSpec device) {
        if (size <= 0) {
            throw new ConfigException("--size must be greater than 0");
        }
        int lbs = device.logicalBlockSizeOr512();
        if (size % lbs != 0) {
            throw new ConfigException("--size " + size + " is not a multiple of the logical block size " + lbs);
        }
    }

    @Override
    public Opened open(DeviceSpec device) {
        check(device);
        return new Opened(new NullTarget(size, device.logicalBlockSizeOr512()), this, List.of());
    }

    @Override
    public Target reopen(DeviceSpec device, long deviceSize, int logicalBlockSize) {
        if (deviceSize != size) {
            throw new ConfigException("the device has " + deviceSize + " bytes, its record says " + size);
        }
        return new NullTarget(size, logicalBlockSize);
    }

    @Override
    public Map<String, Object> describe() {
        return Map.of();
    }
}
