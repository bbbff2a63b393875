package io.jublk.targets;

import java.util.List;
import java.util.function.Supplier;

/**
 * One kind of target as the rest of jublk learns about it, from its entry in {@link Targets#ALL}: the CLI makes
 * `ublk add NAME` of it, the device records' JSON mapper its spec type, `ublk list` its columns and the metrics their
 * labels.
 *
 * @param name    what `ublk add` calls it, the {@code type} of its spec in a device record (so never renamed: records
 *                of running devices carry it), the target column of `ublk list` and the {@code target} label of its
 *                metrics
 * @param spec    the typed spec a device record keeps of it
 * @param options makes a fresh set of its `ublk add NAME` options, for one parse
 * @param columns the facts of its {@link TargetSpec#describe()} that `ublk list` shows, in order (snake_case: they
 *                are also {@code list --json}'s field names)
 * @param labels  the facts that label every metric of its devices
 * @param <S>     its spec
 */
public record TargetType<S extends TargetSpec>(String name, Class<S> spec, Supplier<? extends TargetOptions<S>> options,
        List<String> columns, List<String> labels) {

    public TargetType {
        if (!name.matches("[a-z][a-z0-9-]*")) {
            throw new IllegalArgumentException("a target's name is lower case, as typed after `ublk add`: '" + name
                    + "'");
        }
        columns = List.copyOf(columns);
        labels = List.copyOf(labels);
        for (String c : columns) {
            if (!c.matches("[a-z][a-z0-9_]*")) {
                throw new IllegalArgumentException("target " + name + ": column '" + c + "' is not snake_case");
            }
        }
        for (String l : labels) {
            if (!l.matches("[a-z][a-z0-9_]*")) {
                throw new IllegalArgumentException("target " + name + ": label '" + l + "' is not snake_case");
            }
        }
    }

    /** A target type that shows nothing of its own in `ublk list` and adds no metric labels. */
    public static <S extends TargetSpec> TargetType<S> of(String name, Class<S> spec,
            Supplier<? extends TargetOptions<S>> options) {
        return new TargetType<>(name, spec, options, List.of(), List.of());
    }

    /** The same type with these `ublk list` columns. */
    public TargetType<S> withColumns(String... names) {
        return new TargetType<>(name, spec, options, List.of(names), labels);
    }

    /** The same type with these metric labels. */
    public TargetType<S> withLabels(String... names) {
        return new TargetType<>(name, spec, options, columns, List.of(names));
    }
}
