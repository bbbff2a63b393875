#!/bin/bash
# Crash recovery (--recovery=reissue): kill -9 the daemon while fio writes with verification, `ublk recover`
# starts a new server, fio's queued and in-flight writes complete and its verify passes. Three times in a
# row on the same device; the state file shows the new server each time.
# vm-test: --disk 2G --timeout 1500
# vm-test-seconds: 640
. "$(dirname "$0")/lib/scenario.sh"
scratch_fs
dev=$(add_device loop --file "$SCRATCH/r.img" --size 512M --recovery=reissue -q 2) || finish
id=$(dev_id "$dev")
check "list shows recovery mode" sh -c "ublk list -n $id --json | grep -q '\"recovery\":\"reissue\"'"
for round in 1 2 3; do
  pid=$(daemon_pid "$id")
  fio --name=w$round --filename="$dev" --ioengine=io_uring --direct=1 --rw=randwrite --bs=4k --iodepth=16 \
    --size=64M --offset=$(( (round - 1) * 128 ))M --verify=crc32c --verify_fatal=1 --do_verify=1 \
    --randrepeat=0 --output-format=terse >/tmp/fio$round.out 2>&1 &
  fio_pid=$!
  sleep 4
  check "round $round: fio is writing when the server dies" kill -0 $fio_pid
  kill -9 "$pid"
  for _ in $(seq 50); do [[ "$(ublk list -n "$id" --json 2>/dev/null)" == *'"state":"quiesced"'* ]] && break; sleep 0.5; done
  check "round $round: the device waits for a new server (quiesced)" \
    sh -c "ublk list -n $id --json | grep -q '\"state\":\"quiesced\"'"
  check "round $round: fio is blocked, not failed" kill -0 $fio_pid
  check "round $round: ublk recover -n $id" ublk recover -n "$id"
  new=$(daemon_pid "$id")
  check "round $round: a new server ($new) serves the device" test -n "$new" -a "$new" != "$pid"
  wait $fio_pid
  rc=$?
  check "round $round: fio completed and its crc32c verify passed" test $rc -eq 0
  ((rc == 0)) || sed 's/^/     | /' /tmp/fio$round.out | tail -n 5
done
check "recover of a live device is refused" sh -c "! ublk recover -n $id 2>/dev/null"
check "ublk del" ublk del -n "$id"
check "no device left" test -z "$(ublk_ids)"
finish
