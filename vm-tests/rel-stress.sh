#!/bin/bash
# Reliability: 50 add → I/O → del cycles with two devices at once (null and loop), in one JVM through the Java
# API (io.jublk.server.StressCycles): the kernel reuses the ids, the process leaks no descriptor, thread or
# mapping, no device node is left, and every read-back matches what was written. The harness adds: no kernel
# warning. ARGS: [CYCLES] (default 50).
# vm-test: --disk 1G
# vm-test-seconds: 95
. "$(dirname "$0")/lib/scenario.sh"
cycles=${1:-50}
scratch_fs

java=${JAVA_HOME:-$(ublk --print-jdk)}/bin/java
# The server and target classes need nothing beyond the JDK: no jar, no dependencies.
cp=target/classes:target/test-classes
[[ -f target/test-classes/io/jublk/server/StressCycles.class ]] \
  || { fail "target/test-classes has no StressCycles (run ./mvnw test-compile on the host)"; finish; }

# -UseDynamicNumberOfCompilerThreads: the JIT would otherwise start and stop compiler threads as it pleases,
# which the thread count check would see. Serial GC: few GC threads, as the daemon runs.
opts=(-XX:+UseSerialGC -XX:-UseDynamicNumberOfCompilerThreads -Xmx256m --enable-native-access=ALL-UNNAMED)
start=$SECONDS
# The JVM's PASS/FAIL lines become the scenario's checks; progress lines pass through.
java_checks "$JUBLK_OUT/rel-stress.log" 600 "$java" "${opts[@]}" -cp "$cp" io.jublk.server.StressCycles "$SCRATCH" \
  "$cycles"
info "StressCycles took $((SECONDS - start)) s, exit ${JAVA_CHECKS_EXIT:-?}"
expect_eq "StressCycles exit status" 0 "${JAVA_CHECKS_EXIT:-none}"
check "no device left" test -z "$(ublk_ids)"
umount "$SCRATCH"
finish
