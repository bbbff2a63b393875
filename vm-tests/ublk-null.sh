#!/bin/bash
# ublk add null: a 1 GiB device appears with the default queues (one per CPU, at most two), fio reads and writes
# it (io_uring, iodepth 32), ublk list shows it; with a second device (256 MiB, one queue asked for) alongside,
# ublk list shows both, and ublk del --all removes both block and char devices, their daemons and state files.
# (What the server does with two devices at once, and with two queues, is tested in one JVM by the tier: vmtier.sh,
# NullDevicesTest.)
# vm-test:
# vm-test-seconds: 150
. "$(dirname "$0")/lib/scenario.sh"

dev=$(add_device null --size 1G) || finish
id=$(dev_id "$dev")
info "device $dev"
queues=$(($(nproc) < 2 ? $(nproc) : 2))
expect_eq "the default queues for $(nproc) CPUs" "$queues" "$(ls /sys/block/"${dev#/dev/}"/mq | wc -l)"
expect_eq "size is exactly 1 GiB" 1073741824 "$(blockdev --getsize64 "$dev")"
expect_eq "logical block size" 512 "$(blockdev --getss "$dev")"
check "fio 4k randread iodepth 32" fio --name=rr --filename="$dev" --ioengine=io_uring --direct=1 --rw=randread \
  --bs=4k --iodepth=32 --size=256M --runtime=5 --time_based --output-format=terse
check "fio 4k randwrite iodepth 32" fio --name=rw --filename="$dev" --ioengine=io_uring --direct=1 \
  --rw=randwrite --bs=4k --iodepth=32 --size=256M --runtime=5 --time_based --output-format=terse
check "reads return zeros (after writes)" \
  cmp -n $((8 << 20)) "$dev" /dev/zero
list=$(ublk list)
echo "$list" | sed 's/^/     | /'
check "ublk list shows the device as live null, its server running" grep -Eq "^$id +live +running +null +$queues +128 +1G +$dev +/dev/ublkc$id" <<<"$list"
json=$(ublk list -n "$id" --json)
info "$json"
for field in '"id":'"$id" '"state":"live"' '"target":"null"' '"queues":'"$queues" '"depth":128' '"size":1073741824' \
  "\"block\":\"$dev\"" "\"char\":\"/dev/ublkc$id\"" '"pid":'; do
  check "list --json has $field" grep -qF "$field" <<<"$json"
done
reads=$(grep -o '"reads":[0-9]*' <<<"$json" | cut -d: -f2)
check "list --json has the server's counters (reads: ${reads:-none}, after fio's randread)" test "${reads:-0}" -gt 1000
# Three tables a second apart (two with rates) while a reader runs; the reader outlasts the watch however slowly
# the watching JVM starts (seconds under emulation; a fixed-size dd once ended before the second table).
fio --name=watched --filename="$dev" --rw=randread --bs=4k --direct=1 --ioengine=psync --time_based --runtime=120 \
  --eta=never --output=/dev/null &
reader=$!
watch_out=$(timeout 100 ublk list --watch 1 --count 3 2>&1)
kill "$reader" 2>/dev/null; wait "$reader"
sed 's/^/     | /' <<<"$watch_out" | head -n 8
check "list --watch prints rates, IOPS of a reading device above 0"   awk -v id="$id" '$1 == id && $5 ~ /^[0-9]+$/ && $5 > 0 {found = 1} END {exit !found}' <<<"$watch_out"
pid=$(daemon_pid "$id")
check "the daemon ($pid) is alive" kill -0 "$pid"
# The second daemon's JVM prints to stdout before it answers (-XX:+PrintCommandLineFlags; a flight recording's
# notice does the same): that line is shown as a warning, not taken for the daemon's answer.
if ! dev2=$(JUBLK_DAEMON_JAVA_OPTS=-XX:+PrintCommandLineFlags ublk add null --size 256M -q 1 2>/tmp/add2.err); then
  fail "ublk add null -q 1 with a daemon JVM option that prints: $(cat /tmp/add2.err)"
  finish
fi
check "... its JVM's own line shown as a warning: $(head -c 100 /tmp/add2.err)" \
  grep -q "^ublk: warning: the server's JVM printed: .*-XX:+PrintCommandLineFlags" /tmp/add2.err
id2=$(dev_id "$dev2")
pid2=$(state_pid "$id2")
check "a second device ($dev2) of its own" test "$dev2" != "$dev"
expect_eq "... with the one queue asked for" 1 "$(ls /sys/block/"${dev2#/dev/}"/mq | wc -l)"
expect_eq "ublk list shows two" 2 "$(ublk list --json | grep -o '"id":' | wc -l)"
check "ublk del --all" ublk del --all
for d in "$id:$dev:$pid" "$id2:$dev2:$pid2"; do
  IFS=: read -r i b p <<<"$d"
  check "$b is gone" test ! -e "$b"
  check "/dev/ublkc$i is gone" test ! -e "/dev/ublkc$i"
  check "its daemon ($p) exited" sh -c "! kill -0 $p 2>/dev/null"
  check "no state file left for $i" test ! -e "/run/jublk/ublk$i.json"
done
check "no ublk process left" test -z "$(ublk_procs)"
finish
