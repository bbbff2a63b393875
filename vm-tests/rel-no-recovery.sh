#!/bin/bash
# Without --recovery, a dead server's device fails pending and new I/O (no hang) and `ublk del` still cleans
# up. Times how long fio takes to see the error after kill -9.
# vm-test: --disk 2G
# vm-test-seconds: 70
. "$(dirname "$0")/lib/scenario.sh"
scratch_fs
dev=$(add_device loop --file "$SCRATCH/n.img" --size 256M) || finish
id=$(dev_id "$dev")
pid=$(daemon_pid "$id")
fio --name=w --filename="$dev" --ioengine=io_uring --direct=1 --rw=randwrite --bs=4k --iodepth=16 --size=200M \
  --time_based --runtime=120 --output-format=terse >/tmp/fio.out 2>&1 &
fio_pid=$!
sleep 4
check "fio is writing" kill -0 $fio_pid
kill -9 "$pid"
t0=$(date +%s%N)
for _ in $(seq 200); do kill -0 $fio_pid 2>/dev/null || break; sleep 0.1; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "fio ended ${ms} ms after the server died (within 5 s)" test $ms -le 5000
wait $fio_pid
rc=$?
check "fio reported an I/O error (exit $rc)" test $rc -ne 0
grep -m1 -iE "error|err=" /tmp/fio.out | sed 's/^/     | /'
check "new I/O fails at once too" sh -c "! timeout 10 dd if=$dev of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null"
check "ublk del cleans up" ublk del -n "$id"
check "no device left" test -z "$(ublk_ids)"
check "no state file left" test ! -e "/run/jublk/ublk$id.json"
finish
