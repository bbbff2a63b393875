import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassFileVersion;
import java.lang.classfile.ClassHierarchyResolver;
import java.lang.classfile.ClassModel;
import java.lang.classfile.ClassTransform;
import java.lang.classfile.CodeTransform;
import java.lang.classfile.ClassFile.ClassHierarchyResolverOption;
import java.lang.classfile.ClassFile.StackMapsOption;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Build step (pom.xml, JDK 24+): rewrites the classes of a jar whose class-file format is older than Java 6 (50) to
 * Java 8's (52), with the stack maps that format needs, and nothing else changed: the same bytecode, constant pool
 * entries, attributes and annotations. The JDK's AOT cache (and a CDS archive) cannot keep a class of the old format
 * once it is linked, so every `ublk` command loads and links such classes from the jar: picocli's, ~180 of them,
 * compiled for Java 5, most of a command's start-up after the JVM's own. Every rewritten class is checked by the
 * JDK's verifier here; one that fails it fails the build.
 *
 * <p>{@code java UpgradeClassFiles.java JAR PREFIX...}: the classes whose path in JAR starts with a PREFIX.
 */
public final class UpgradeClassFiles {
    private static final int OLDEST_WITH_STACK_MAPS = 50;
    private static final int TARGET = 52;

    public static void main(String[] args) throws Exception {
        Path jar = Path.of(args[0]).toAbsolutePath();
        List<String> prefixes = List.of(args).subList(1, args.length);
        // The rewritten classes' stack maps name their common supertypes: resolved from the jar itself.
        try (URLClassLoader loader = new URLClassLoader(new URL[] {jar.toUri().toURL()}, null);
                FileSystem zip = FileSystems.newFileSystem(jar)) {
            ClassHierarchyResolver hierarchy = ClassHierarchyResolver.defaultResolver()
                    .orElse(ClassHierarchyResolver.ofResourceParsing(loader));
            ClassFile cf = ClassFile.of(StackMapsOption.GENERATE_STACK_MAPS, ClassHierarchyResolverOption.of(hierarchy));
            List<Path> classes;
            try (Stream<Path> all = Files.walk(zip.getPath("/"))) {
                classes = all.filter(p -> p.toString().endsWith(".class"))
                        .filter(p -> prefixes.stream().anyMatch(x -> p.toString().startsWith("/" + x))).toList();
            }
            List<String> problems = new ArrayList<>();
            int upgraded = 0;
            for (Path p : classes) {
                ClassModel old = cf.parse(Files.readAllBytes(p));
                if (old.majorVersion() >= OLDEST_WITH_STACK_MAPS) {
                    continue;
                }
                // Every method body is built again (so it gets stack maps); the version is the only other change.
                byte[] upgrade = cf.transformClass(old, ClassTransform.transformingMethodBodies(CodeTransform.ACCEPT_ALL)
                        .andThen((b, e) -> b.with(e instanceof ClassFileVersion ? ClassFileVersion.of(TARGET, 0) : e)));
                cf.verify(upgrade).forEach(e -> problems.add(p + ": " + e.getMessage()));
                Files.write(p, upgrade);
                upgraded++;
            }
            if (!problems.isEmpty()) {
                throw new IllegalStateException("rewritten classes do not verify:\n" + String.join("\n", problems));
            }
            System.out.println("UpgradeClassFiles: " + upgraded + " classes of " + jar.getFileName() + " " + prefixes
                    + " now in class-file format " + TARGET);
        }
    }
}
