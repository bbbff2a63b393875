#!/bin/bash
# Asynchronous completion against ublk_drv (io.jublk.server.AsyncCompletionDevices, in one JVM): a RAM disk whose
# handler answers every request from another thread, a platform pool and then virtual threads, passes fio's
# crc32c verification; a device whose target never answers a request still stops, within the queue's grace
# (UblkQueue.STOP_GRACE, 10 s) and a margin, and the reader of that request gets an error. And the socket operations
# on the queue ring: a device served over TCP on loopback (WireTarget and WirePeer), also a zero-copy one whose
# payloads go between the socket and the requests' own pages; fio verifies both.
# vm-test:
# vm-test-seconds: 300
. "$(dirname "$0")/lib/scenario.sh"

java=${JAVA_HOME:-$(ublk --print-jdk)}/bin/java
cp=target/classes:target/test-classes
[[ -f target/test-classes/io/jublk/server/AsyncCompletionDevices.class ]] \
  || { fail "target/test-classes has no AsyncCompletionDevices (run ./mvnw test-compile on the host)"; finish; }
opts=(-XX:+UseSerialGC -Xmx512m --enable-native-access=ALL-UNNAMED)
start=$SECONDS
java_checks "$JUBLK_OUT/async-complete.log" 600 "$java" "${opts[@]}" -cp "$cp" io.jublk.server.AsyncCompletionDevices
info "AsyncCompletionDevices took $((SECONDS - start)) s, exit ${JAVA_CHECKS_EXIT:-?}"
expect_eq "AsyncCompletionDevices exit status" 0 "${JAVA_CHECKS_EXIT:-none}"
check "no device left" test -z "$(ublk_ids)"
finish
