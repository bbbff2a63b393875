package io.jublk.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The man pages and the bash completion script that {@code package} generates from the command line's model
 * (pom.xml: picocli's generators, then Asciidoctor): every visible command has its page, every visible option is
 * on its command's page, the pages render with no roff warning, and bash completes every command and option.
 * Against the files in target/, as they are installed (an IT: they exist only after {@code package}).
 */
class ManPagesIT {
    private static final Path TARGET = Path.of(System.getProperty("jublk.repo", ".")).resolve("target");

    /** Every command a user can type, from the model the CLI runs. */
    private static List<CommandSpec> visibleCommands() {
        List<CommandSpec> all = new ArrayList<>();
        collect(Main.commandLine(), all);
        return all;
    }

    private static void collect(CommandLine cl, List<CommandSpec> into) {
        CommandSpec spec = cl.getCommandSpec();
        if (spec.usageMessage().hidden()) {
            return;
        }
        into.add(spec);
        cl.getSubcommands().values().stream().distinct().forEach(sub -> collect(sub, into));
    }

    private static Path page(CommandSpec spec) {
        return TARGET.resolve("man").resolve(spec.qualifiedName("-") + ".1");
    }

    @Test
    void everyCommandHasAPageNamingEachOfItsOptions() throws IOException {
        List<CommandSpec> commands = visibleCommands();
        assertTrue(commands.size() >= 8, "commands found: " + commands.size());
        for (CommandSpec spec : commands) {
            Path page = page(spec);
            assertTrue(Files.isRegularFile(page), "no man page for `" + spec.qualifiedName() + "`: " + page);
            // roff spells a hyphen "\-"; what a reader sees is the plain option name.
            String text = Files.readString(page).replace("\\-", "-").replace("\\&", "");
            assertTrue(text.contains(".TH \"" + spec.qualifiedName("-").toUpperCase()), page + " has no title");
            for (OptionSpec o : spec.options()) {
                if (!o.hidden()) {
                    assertTrue(text.contains(o.longestName()), page + " does not describe " + o.longestName());
                }
            }
        }
    }

    @Test
    void pagesRenderWithoutWarnings() throws Exception {
        for (CommandSpec spec : visibleCommands()) {
            // groff with every warning on; -z: parse and format, print nothing.
            Process p = new ProcessBuilder("groff", "-man", "-Tutf8", "-ww", "-z", page(spec).toString())
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), out);
            assertEquals("", out, "groff warns about " + page(spec));
        }
    }

    /** What bash offers after {@code line} (which ends where the cursor is), with the generated script sourced. */
    private static Set<String> complete(String line) throws Exception {
        Path script = TARGET.resolve("ublk-completion.bash");
        String driver = "source \"$1\"; read -ra COMP_WORDS <<<\"$2\"; [[ \"$2\" == *' ' ]] && COMP_WORDS+=('');"
                + " COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMP_LINE=$2; COMP_POINT=${#2};"
                + " _complete_ublk ublk \"${COMP_WORDS[COMP_CWORD]}\" \"${COMP_WORDS[COMP_CWORD-1]}\";"
                + " printf '%s\\n' \"${COMPREPLY[@]}\"";
        Process p = new ProcessBuilder("bash", "-c", driver, "complete", script.toString(), line)
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), "completing `" + line + "`");
        Set<String> words = new TreeSet<>();
        for (String w : out.split("\n")) {
            if (!w.isBlank()) {
                words.add(w.trim());
            }
        }
        return words;
    }

    @Test
    void bashCompletesEveryCommandAndOption() throws Exception {
        for (CommandSpec spec : visibleCommands()) {
            String typed = spec.qualifiedName() + " ";
            Set<String> offered = new TreeSet<>(complete(typed));
            offered.addAll(complete(typed + "-"));
            for (String sub : spec.subcommands().keySet()) {
                if (!spec.subcommands().get(sub).getCommandSpec().usageMessage().hidden()) {
                    assertTrue(offered.contains(sub), "`" + typed + "` does not offer " + sub + ": " + offered);
                }
            }
            for (OptionSpec o : spec.options()) {
                if (!o.hidden()) {
                    assertTrue(offered.contains(o.longestName()),
                            "`" + typed + "-` does not offer " + o.longestName() + ": " + offered);
                }
            }
        }
    }
}
