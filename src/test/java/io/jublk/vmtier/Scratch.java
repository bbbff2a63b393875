package io.jublk.vmtier;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.AnnotatedElementContext;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.io.TempDirFactory;

/**
 * {@code @TempDir(factory = Scratch.class)}: a test's directory on the scratch disk's ext4 (the scenario mounts it
 * and names it in {@code -Djublk.scratch}), where backing files get what a real file system gives (O_DIRECT,
 * holes, fdatasync), unlike the guest's tmpfs. JUnit deletes it after the test.
 */
public final class Scratch implements TempDirFactory {
    static final String PROPERTY = "jublk.scratch";

    @Override
    public Path createTempDirectory(AnnotatedElementContext element, ExtensionContext context) throws IOException {
        String root = System.getProperty(PROPERTY);
        if (root == null) {
            throw new IllegalStateException("-D" + PROPERTY + " names no scratch directory (vm-tests/vmtier.sh sets it)");
        }
        return Files.createTempDirectory(Path.of(root), "t");
    }
}
