package io.jublk.cli;

import io.jublk.ctrl.UblkControl;
import io.jublk.uapi.UblkFeature;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "features", description = "Show the ublk features (UBLK_F_*) this kernel supports.")
final class FeaturesCommand implements Callable<Integer> {
    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Override
    public Integer call() {
        Preflight.requireUblk();
        long mask;
        try (UblkControl ctrl = UblkControl.open()) {
            mask = ctrl.getFeatures();
        }
        List<String> names = UblkFeature.decode(mask);
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("mask", "0x" + Long.toHexString(mask));
            m.put("features", names);
            System.out.println(io.jublk.record.Records.JSON.writeValueAsString(m));
        } else {
            System.out.println("feature mask 0x" + Long.toHexString(mask));
            for (String n : names) {
                UblkFeature f = null;
                for (UblkFeature x : UblkFeature.values()) {
                    if (x.name().equals(n)) {
                        f = x;
                    }
                }
                System.out.printf("  %-24s bit %d%n", n, f != null ? f.bit() : -1);
            }
        }
        return 0;
    }
}
