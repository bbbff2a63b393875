#!/bin/bash
# Add, use, delete 20 times in a row: the kernel reuses the id, nothing leaks (devices, daemons, state), and
# each daemon holds the same number of file descriptors.
# vm-test: --timeout 1800
# vm-test-seconds: 600
. "$(dirname "$0")/lib/scenario.sh"

cycles=${1:-20}
# This scenario is about the life cycle (ids, descriptors, leftovers), not speed: the daemons skip C2, whose
# start-up compiling costs each `ublk add` about 10 s on the emulated CPU.
export JUBLK_DAEMON_JAVA_OPTS="${JUBLK_DAEMON_JAVA_OPTS:-} -XX:TieredStopAtLevel=1"
first_id="" fds_seen=""
for i in $(seq 1 "$cycles"); do
  dev=$(add_device null --size 64M) || finish
  id=$(dev_id "$dev")
  [[ -z "$first_id" ]] && first_id=$id
  # The state file's pid, not `ublk list` (a JVM start per cycle); ublk-null.sh checks list against the kernel.
  pid=$(state_pid "$id")
  [[ -n $pid && -d /proc/$pid ]] || fail "cycle $i: no live daemon pid in the state file ('$pid')"
  dd if=/dev/zero of="$dev" bs=1M count=4 oflag=direct status=none || fail "cycle $i: write"
  fds=$(ls /proc/"$pid"/fd | wc -l)
  fds_seen="$fds_seen $fds"
  ublk del -n "$id" || fail "cycle $i: del"
  [[ "$id" == "$first_id" ]] || fail "cycle $i: id $id, not $first_id again"
  [[ -z "$(ublk_ids)" ]] || fail "cycle $i: devices left: $(ublk_ids | tr '\n' ' ')"
done
ok "$cycles add/del cycles, id $first_id every time"
expect_eq "daemon descriptors the same every cycle" 1 "$(tr ' ' '\n' <<<"$fds_seen" | grep -v '^$' | sort -u | wc -l)"
info "descriptors per daemon:$fds_seen"
check "no ublk process left" test -z "$(ublk_procs)"
check "no state file left" sh -c '! ls /run/jublk/ublk*.json 2>/dev/null'
finish
