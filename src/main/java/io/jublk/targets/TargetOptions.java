package io.jublk.targets;

/**
 * The options of `ublk add NAME` for one target: a picocli-annotated class ({@code @Option} and {@code @ArgGroup}
 * fields; its {@code @Command} description is the subcommand's), filled in by parsing, and turned into the typed
 * spec a device record keeps. The two are apart on purpose: the options are how a user spells a request (two
 * exclusive flags, a relative path), the spec is what is stored and recovered from (a mode, an absolute path), and
 * a renamed option must not change a record.
 *
 * @param <S> the spec these options make
 */
public interface TargetOptions<S extends TargetSpec> {
    /** The spec the parsed options ask for; the caller checks it. */
    S spec();
}
