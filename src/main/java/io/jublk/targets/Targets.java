package io.jublk.targets;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The registry of targets, as kublk's {@code tgt_ops_list[]} and {@code ublk_find_tgt()}: `ublk add NAME`, the kinds of
 * target a device record can hold, the target columns of `ublk list` and the target labels of the metrics all come
 * from {@link #ALL}.
 *
 * <p>A new target is one class — its spec record with its `ublk add` options, checks, open and reopen, and its
 * {@link TargetType} — and one line here.
 */
public final class Targets {
    private Targets() {}

    /** Every target, in the order `ublk add --help` shows them. */
    public static final List<TargetType<?>> ALL = checked(List.of(
            NullSpec.TYPE,
            LoopSpec.TYPE,
            NbdSpec.TYPE));

    private static List<TargetType<?>> checked(List<TargetType<?>> types) {
        Set<String> names = new HashSet<>();
        Set<Class<?>> specs = new HashSet<>();
        for (TargetType<?> t : types) {
            if (!names.add(t.name()) || !specs.add(t.spec())) {
                throw new IllegalStateException("target " + t.name() + " (" + t.spec().getName() + ") is registered "
                        + "twice, or under two names");
            }
        }
        return types;
    }

    /** The target `ublk add NAME` means. */
    public static Optional<TargetType<?>> find(String name) {
        return ALL.stream().filter(t -> t.name().equals(name)).findFirst();
    }

    /** The type of a spec. */
    public static TargetType<?> of(TargetSpec spec) {
        return ALL.stream().filter(t -> t.spec() == spec.getClass()).findFirst()
                .orElseThrow(() -> new IllegalArgumentException(spec.getClass().getName() + " is not in Targets.ALL"));
    }

    public static List<String> names() {
        return ALL.stream().map(TargetType::name).toList();
    }

    /** Every target's `ublk list` columns, each once, in registry order. */
    public static List<String> columns() {
        LinkedHashSet<String> all = new LinkedHashSet<>();
        ALL.forEach(t -> all.addAll(t.columns()));
        return new ArrayList<>(all);
    }

    /**
     * The labels every metric of a device serving {@code spec} carries: {@code target}, then every label any target
     * has, {@code none} where this one has no such fact — the same label names whatever the target, so that one query
     * covers every device.
     */
    public static Map<String, String> labels(TargetSpec spec) {
        Map<String, String> facts = spec.describe();
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put("target", of(spec).name());
        for (TargetType<?> t : ALL) {
            for (String l : t.labels()) {
                String v = facts.get(l);
                labels.putIfAbsent(l, v != null ? v : "none");
            }
        }
        return labels;
    }
}
