#!/bin/bash
# The in-VM JUnit tier: the tests of io.jublk.vmtier (src/test/java) drive the library itself — UblkServer, the
# loop and null targets, the examples — in this one JVM against the real ublk_drv, device after device, with fio,
# blkdiscard, mkfs.ext4 and e2fsck as child processes and Java I/O on /dev/ublkbN. Each test is one ok/FAIL line;
# the JVM exits non-zero if any failed or did not run. The harness adds: no kernel warning.
# ARGS: test classes to run (simple names, e.g. LoopContentTest), default all of them.
# vm-test: --disk 2G --timeout 2400
# vm-test-seconds: 710
. "$(dirname "$0")/lib/scenario.sh"
scratch_fs

java=${JAVA_HOME:-$(ublk --print-jdk)}/bin/java
# The test classes and their dependencies (JUnit) from the host's build: the guest sees ~/.m2 at the same path.
for f in target/test-classes/io/jublk/vmtier/VmTier.class target/test-classpath.txt; do
  [[ -f $f ]] || { fail "no $f (run ./mvnw test-compile on the host)"; finish; }
done
cp=target/test-classes:target/classes:$(<target/test-classpath.txt)

# Serial GC and a fixed number of JIT threads: the stress test counts this process's threads, which the JVM would
# otherwise start and stop as it pleases. The heap holds CompressedRamDisk's blocks (up to 512 MiB of them).
opts=(-XX:+UseSerialGC -XX:-UseDynamicNumberOfCompilerThreads -Xmx1g --enable-native-access=ALL-UNNAMED
  -Djublk.scratch="$SCRATCH")
start=$SECONDS
timeout 2100 "$java" "${opts[@]}" -cp "$cp" io.jublk.vmtier.VmTier "$@" 2>&1
rc=$?
info "the tier took $((SECONDS - start)) s"
expect_eq "the tier's JVM exit status (0: every test ran and passed)" 0 "$rc"
check "no device left" test -z "$(ublk_ids)"
umount "$SCRATCH"
finish
