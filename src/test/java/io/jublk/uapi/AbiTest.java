package io.jublk.uapi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.Reader;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.PaddingLayout;
import java.lang.foreign.StructLayout;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every kernel struct size, member offset and constant the Java side uses equals what the C probe, compiled
 * against the 7.3 UAPI headers, printed into {@code ublk-headers/abi.properties}.
 */
class AbiTest {
    static final List<StructLayout> STRUCTS = List.of(
            UblksrvCtrlCmd.LAYOUT, UblksrvCtrlDevInfo.LAYOUT, UblkParamBasic.LAYOUT, UblkParamDiscard.LAYOUT,
            UblkParamDevt.LAYOUT, UblkParamZoned.LAYOUT, UblkParamDmaAlign.LAYOUT, UblkParamSegment.LAYOUT,
            UblkParamIntegrity.LAYOUT, UblkParams.LAYOUT, UblksrvIoDesc.LAYOUT, UblksrvIoCmd.LAYOUT,
            UblkBatchIo.LAYOUT, UblkElemHeader.LAYOUT, IoUringBufReg.LAYOUT, IoUringBuf.LAYOUT,
            IoUringParams.LAYOUT, IoSqringOffsets.LAYOUT, IoCqringOffsets.LAYOUT, IoUringSqe.LAYOUT,
            IoUringCqe.LAYOUT, IoUringRsrcRegister.LAYOUT, IoUringRsrcUpdate.LAYOUT, IoUringFilesUpdate.LAYOUT, IoUringGeteventsArg.LAYOUT, KernelTimespec.LAYOUT, Statx.LAYOUT,
            OpenHow.LAYOUT, SockaddrIn.LAYOUT, SockaddrUn.LAYOUT);

    static final List<Class<?>> CONSTANTS = List.of(Ublk.class, IoUringUapi.class, LinuxUapi.class);

    static Properties abi;

    static Path repo() {
        return Path.of(System.getProperty("jublk.repo", ".")).toAbsolutePath();
    }

    @BeforeAll
    static void load() throws IOException {
        abi = new Properties();
        try (Reader r = Files.newBufferedReader(repo().resolve("ublk-headers/abi.properties"))) {
            abi.load(r);
        }
        assertTrue(abi.size() > 500, "probe output looks complete");
    }

    static long probe(String key) {
        String v = abi.getProperty(key);
        if (v == null) {
            fail("the probe has no " + key + ": the Java side names something the kernel header does not");
        }
        return Long.parseUnsignedLong(v.startsWith("-") ? v.substring(1) : v) * (v.startsWith("-") ? -1 : 1);
    }

    @Test
    void structSizesAndOffsetsMatchTheKernelHeader() {
        int checked = 0;
        for (StructLayout s : STRUCTS) {
            String name = s.name().orElseThrow();
            assertEquals(probe("struct." + name + ".size"), s.byteSize(), name + " size");
            checked += checkMembers(name, s, 0);
        }
        assertTrue(checked > 100, "checked " + checked + " members");
    }

    private int checkMembers(String struct, GroupLayout group, long base) {
        int n = 0;
        long offset = 0;
        for (MemoryLayout m : group.memberLayouts()) {
            long at = base + (group instanceof StructLayout ? offset : 0);
            if (group instanceof StructLayout) {
                offset += m.byteSize();
            }
            if (m instanceof PaddingLayout) {
                continue;
            }
            String member = m.name().orElseThrow(() -> new AssertionError("unnamed member in " + struct));
            if (member.startsWith(Layouts.ANONYMOUS)) {
                n += checkMembers(struct, (GroupLayout) m, at);
                continue;
            }
            String key = "struct." + struct + "." + member;
            assertEquals(probe(key + ".offset"), at, key + " offset");
            assertEquals(probe(key + ".size"), m.byteSize(), key + " size");
            n++;
        }
        return n;
    }

    @Test
    void constantsMatchTheKernelHeader() throws IllegalAccessException {
        List<String> checked = new ArrayList<>();
        for (Class<?> c : CONSTANTS) {
            for (Field f : c.getDeclaredFields()) {
                int mod = f.getModifiers();
                if (!Modifier.isPublic(mod) || !Modifier.isStatic(mod) || !Modifier.isFinal(mod)) {
                    continue;
                }
                long expected = probe("const." + f.getName());
                if (f.getType() == int.class) {
                    int v = f.getInt(null);
                    boolean same = v == expected || Integer.toUnsignedLong(v) == expected;
                    assertTrue(same, f.getName() + ": java " + Integer.toUnsignedString(v) + ", kernel " + expected);
                } else if (f.getType() == long.class) {
                    assertEquals(expected, f.getLong(null), f.getName());
                } else {
                    fail("constant of unexpected type: " + f);
                }
                checked.add(f.getName());
            }
        }
        assertTrue(checked.size() > 150, "checked " + checked.size() + " constants");
    }

    @Test
    void featureNamesAndBitsMatchTheKernelHeader() {
        for (UblkFeature f : UblkFeature.values()) {
            assertEquals(probe("const." + f.macroName()), f.mask(), f.macroName());
        }
        long all = 0;
        for (String key : abi.stringPropertyNames()) {
            if (key.startsWith("const.UBLK_F_")) {
                all |= probe(key);
                assertTrue(UblkFeature.ofMask(probe(key)) != null, key + " has no UblkFeature");
            }
        }
        assertEquals(0x1fffffL, all, "7.3 has feature flags 0-20");
    }

    @Test
    void derivedSqeFactsMatch() {
        assertEquals(probe("const.IO_URING_SQE128_SIZE"), IoUringSqe.SIZE128);
        assertEquals(probe("const.IO_URING_SQE_CMD_BYTES_64"), IoUringSqe.CMD_BYTES);
        assertEquals(probe("const.IO_URING_SQE_CMD_BYTES_128"), IoUringSqe.CMD_BYTES_128);
        assertTrue(UblksrvCtrlCmd.SIZE <= IoUringSqe.CMD_BYTES_128, "ctrl cmd fits an SQE128");
        assertTrue(UblksrvIoCmd.SIZE <= IoUringSqe.CMD_BYTES, "io cmd fits a plain SQE");
    }
}
