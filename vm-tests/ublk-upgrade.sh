#!/bin/bash
# Live upgrade: `ublk upgrade` hands a loop device (added with --recovery) to a new server twice, once to this
# build and once to a copy of the jar given with --jar, while an ext4 on it is mounted and fio writes and verifies
# (crc32c) files on it without a break. Afterwards: every fio run passed, the kernel logged no I/O error, each
# upgrade changed the daemon and the record names the new one, the old one exited, e2fsck is clean, del is clean.
# A device added without --recovery is refused with one line and serves on with the same server.
# vm-test: --disk 1G
# vm-test-seconds: 240
. "$(dirname "$0")/lib/scenario.sh"
scratch_fs
# Daemons start faster under emulation with C1 only.
export JUBLK_DAEMON_JAVA_OPTS="${JUBLK_DAEMON_JAVA_OPTS:-} -XX:TieredStopAtLevel=1"
dev=$(add_device loop --file "$SCRATCH/u.img" --size 256M --recovery -q 2) || finish
id=$(dev_id "$dev")
mkdir -p /mnt/u
{ mkfs.ext4 -q "$dev" && mount "$dev" /mnt/u; } || { fail "mkfs.ext4 and mount $dev"; finish; }

# One fio write+verify job after another on the mounted file system until told to stop; each run's status is kept.
: >/tmp/fio-status
(
  n=0
  while [[ ! -e /tmp/fio-stop ]]; do
    n=$((n + 1))
    fio --name=v$n --directory=/mnt/u --filename=v$((n % 2)) --size=24M --rw=randwrite --bs=4k --iodepth=16 \
      --ioengine=io_uring --direct=1 --verify=crc32c --do_verify=1 --verify_fatal=1 --randrepeat=0 \
      --output=/tmp/fio$n.out >/dev/null 2>&1
    echo "$n $?" >>/tmp/fio-status
  done
) &
writer=$!
sleep 2

rundir=${JUBLK_RUN_DIR:-/run/jublk}
record=$rundir/ublk$id.json
for round in 1 2; do
  args=()
  if ((round == 2)); then
    cp target/jublk.jar /tmp/jublk-next.jar
    args=(--jar /tmp/jublk-next.jar)
  fi
  old=$(state_pid "$id")
  before=$(wc -l </tmp/fio-status)
  check "round $round: fio is running on the mounted device" kill -0 $writer
  check "round $round: ublk upgrade -n $id ${args[*]}" ublk upgrade -n "$id" "${args[@]}"
  new=$(state_pid "$id")
  check "round $round: the record names a new server ($old -> $new)" test -n "$new" -a "$new" != "$old"
  check "round $round: the record says live" grep -q '"state" *: *"live"' "$record"
  check "round $round: the new server runs" kill -0 "$new"
  for _ in $(seq 60); do kill -0 "$old" 2>/dev/null || break; sleep 0.5; done
  check "round $round: the old server exited" sh -c "! kill -0 $old 2>/dev/null"
  info "round $round: fio runs finished before it: $before, now: $(wc -l </tmp/fio-status)"
  check "round $round: the old server's log (kept as ublk$id.previous.log) says it handed the device over" \
    grep -q "handed over: this server no longer serves it" "$rundir/ublk$id.previous.log"
  # How long the device had no server: from the old one's QUIESCE_DEV to the new one's "device N is ...".
  from=$(grep -h "handing device $id over" "$rundir/ublk$id.previous.log" | tail -n1 | cut -c1-23)
  to=$(grep -h "device $id is /dev/ublkb$id" "$rundir/ublk$id.log" | tail -n1 | cut -c1-23)
  if [[ -n $from && -n $to ]]; then
    info "round $round: I/O waited for a server for $(( $(date -d "$to" +%s%3N) - $(date -d "$from" +%s%3N) )) ms"
  fi
done
check "the kernel names the last server as the device's (ublk list)" test "$(daemon_pid "$id")" = "$new"
sleep 2
touch /tmp/fio-stop
wait $writer
runs=$(wc -l </tmp/fio-status)
failed=$(awk '$2 != 0' /tmp/fio-status | wc -l)
check "fio ran through both upgrades ($runs runs)" test "$runs" -ge 2
expect_eq "fio runs that failed (write, then crc32c verify)" 0 "$failed"
if ((failed > 0)); then
  for n in $(awk '$2 != 0 {print $1}' /tmp/fio-status); do sed 's/^/     | /' /tmp/fio$n.out | tail -n 8; done
fi
errors=$(dmesg | grep -Ei 'I/O error|blk_update_request|Buffer I/O|EXT4-fs (error|warning)|ublk.*(abort|fail)' || true)
check "the kernel logged no I/O error" test -z "$errors"
[[ -n $errors ]] && sed 's/^/     | /' <<<"$errors" | head -n 10
# The servers' logs, for a look after the run (vm-tests/run --out DIR ublk-upgrade.sh).
cp "$rundir"/ublk"$id"*.log "${JUBLK_OUT:-/tmp}/" 2>/dev/null || true
check "umount" umount /mnt/u
check "e2fsck -fn finds the file system clean" e2fsck -fn "$dev"
check "ublk del -n $id" ublk del -n "$id"

plain=$(add_device null --size 64M) || finish
pid=$(state_pid "$(dev_id "$plain")")
expect_fail "ublk upgrade of a device added without --recovery" ublk upgrade -n "$(dev_id "$plain")"
check "that device still serves" dd if="$plain" of=/dev/null bs=64k count=16 iflag=direct status=none
expect_eq "by the same server" "$pid" "$(state_pid "$(dev_id "$plain")")"
check "ublk del --all" ublk del --all
check "no device left" test -z "$(ublk_ids)"
finish
