#!/bin/bash
# Durability, MODE direct|buffered: fio writes with O_DIRECT|O_SYNC and saves its verify state; the daemon is
# killed with -9 mid-run; after the device is deleted, fio verifies the backing file itself against the saved
# state: every write fio saw acknowledged is there (zero verify errors).
# vm-test: --disk 2G -- direct
# vm-test: --disk 2G -- buffered
# vm-test-seconds: 90
. "$(dirname "$0")/lib/scenario.sh"
mode=${1:?mode}
scratch_fs
f=$SCRATCH/dur.img
dev=$(add_device loop --file "$f" --size 256M "$(mode_arg "$mode")") || finish
id=$(dev_id "$dev")
pid=$(daemon_pid "$id")
job=(--name=dur --ioengine=psync --rw=randwrite --bs=4k --size=64M --verify=crc32c --randseed=1234 --numjobs=1)
mkdir -p /tmp/dur && cd /tmp/dur
fio "${job[@]}" --filename="$dev" --direct=1 --sync=1 --do_verify=0 --verify_state_save=1 --output-format=terse \
  >/tmp/dur.out 2>&1 &
fio_pid=$!
sleep 10
check "fio is writing when the server dies" kill -0 $fio_pid
kill -9 "$pid"
wait $fio_pid
info "fio exit $?; state: $(ls /tmp/dur)"
check "fio saved its verify state" sh -c 'ls /tmp/dur/*verify.state >/dev/null'
check "ublk del" ublk del -n "$id"
out=$(fio "${job[@]}" --filename="$f" --verify_only --verify_state_load=1 --verify_fatal=1 2>&1)
rc=$?
check "fio verifies the backing file: every acknowledged write is there" test $rc -eq 0
((rc == 0)) || sed 's/^/     | /' <<<"$out" | tail -n 8
info "$(grep -m1 -E 'verify|io=' <<<"$out")"
finish
