#!/bin/bash
# What a device's record guarantees, tried as an operator (or an accident) would:
#  - recovery serves the very file the device was created with: added from /srv/vm1 with a relative path and
#    recovered from /, it serves /srv/vm1's file and creates nothing; a path replaced by a symbolic link, another
#    file at the path, a file whose size changed are refused with one line, and the device keeps waiting;
#  - only our process is signalled: a record whose server pid now belongs to another process never gets that
#    process killed, and the device is still removed;
#  - a record that describes another device (the id was reused) is never acted on;
#  - the run directory must not be writable by others;
#  - a final flush that fails is reported by `ublk del` (non-zero, naming the errno) and in the daemon's log, and a
#    server that is flushing is waited for, never killed.
# vm-test: --disk 1G --timeout 1500
# vm-test-seconds: 330
. "$(dirname "$0")/lib/scenario.sh"
scratch_fs
run_dir=${JUBLK_RUN_DIR:-/run/jublk}
export JUBLK_DAEMON_JAVA_OPTS="${JUBLK_DAEMON_JAVA_OPTS:-} -XX:TieredStopAtLevel=1"

# wait_state ID STATE: until `ublk list` says so (at most 30 s).
wait_state() {
  for _ in $(seq 60); do [[ "$(ublk list -n "$1" --json 2>/dev/null)" == *"\"state\":\"$2\""* ]] && return 0; sleep 0.5; done
  return 1
}
kill_server() { kill -9 "$(state_pid "$1")"; wait_state "$1" quiesced; }

# --- recovery serves the device's own file (finding 2) ----------------------------------------------------------
mkdir -p "$SCRATCH/srv/vm1"
dev=$(cd "$SCRATCH/srv/vm1" && add_device loop --file disk.img --size 32M --recovery=reissue) || finish
id=$(dev_id "$dev")
dd if=/dev/urandom of="$dev" bs=1M count=32 oflag=direct status=none
want=$(sha "$dev")
check "server killed: the device waits for a new one" kill_server "$id"
mv "$SCRATCH/srv/vm1" "$SCRATCH/srv/vm1.moved" && ln -s vm1.moved "$SCRATCH/srv/vm1"
cd /
expect_fail "recover when a directory of the path is now a symbolic link" ublk recover -n "$id"
rm "$SCRATCH/srv/vm1" && mv "$SCRATCH/srv/vm1.moved" "$SCRATCH/srv/vm1"
mv "$SCRATCH/srv/vm1/disk.img" "$SCRATCH/srv/vm1/disk.orig" && cp "$SCRATCH/srv/vm1/disk.orig" "$SCRATCH/srv/vm1/disk.img"
expect_fail "recover when another file (a copy) is at the path" ublk recover -n "$id"
mv -f "$SCRATCH/srv/vm1/disk.orig" "$SCRATCH/srv/vm1/disk.img"
truncate -s 48M "$SCRATCH/srv/vm1/disk.img"
expect_fail "recover when the file's size changed" ublk recover -n "$id"
truncate -s 32M "$SCRATCH/srv/vm1/disk.img"
expect_eq "after the refusals the device still waits" quiesced \
  "$(ublk list -n "$id" --json | grep -o '"state":"[a-z_]*"' | cut -d'"' -f4)"
check "recover from / (the device was added from $SCRATCH/srv/vm1 with a relative path)" ublk recover -n "$id"
check "... created no /disk.img" test ! -e /disk.img
drop_caches
expect_eq "... and serves the device's own file" "$want" "$(sha "$dev")"

# --- kill only our process, act only on our device (finding 5) --------------------------------------------------
check "server killed again" kill_server "$id"
sleep 600 &
bystander=$!
rec=$run_dir/ublk$id.json
sed -i "s/\"pid\" : [0-9]*/\"pid\" : $bystander/" "$rec"
check "del of a device whose recorded pid now names another process" ublk del -n "$id"
check "... did not kill that process" kill -0 $bystander
check "... and removed the device" test ! -e "/dev/ublkc$id"
check "... and its record" test ! -e "$rec"
dev=$(add_device null --size 16M) || finish
id=$(dev_id "$dev")
cp "$run_dir/ublk$id.json" /tmp/old-record.json
check "del" ublk del -n "$id"
dev=$(add_device null --size 16M) || finish
id2=$(dev_id "$dev")
expect_eq "the id is reused" "$id" "$id2"
pid=$(state_pid "$id2")
cp "$run_dir/ublk$id2.json" /tmp/new-record.json
cp /tmp/old-record.json "$run_dir/ublk$id2.json" # an old device's record, where the new one's was
out=$(ublk list -n "$id2" --json)
check "list does not take the old record for the new device" grep -q '"target":"-"' <<<"$out"
cp /tmp/new-record.json "$run_dir/ublk$id2.json"
check "the new device's server was not disturbed" kill -0 "$pid"
check "del" ublk del -n "$id2"
kill $bystander

# --- the run directory ---------------------------------------------------------------------------------------------
chmod 0777 "$run_dir"
expect_fail "a run directory others can write is refused" ublk list
chmod 0700 "$run_dir"

# --- a failed final flush is reported (finding 4), a flushing server is never killed ------------------------------
modprobe dm_mod || { fail "modprobe dm_mod"; finish; }
sectors=$((64 << 11))
truncate -s 64M "$SCRATCH/dm.img"
lo=$(losetup -f --show "$SCRATCH/dm.img") || { fail "losetup"; finish; }
dmsetup create --noudevsync jbf <<<"0 $sectors linear $lo 0" && dmsetup mknodes jbf ||
  { fail "dmsetup create"; finish; }
dev=$(add_device loop --file /dev/mapper/jbf --buffered) || finish
id=$(dev_id "$dev")
dd if=/dev/urandom of="$dev" bs=1M count=16 oflag=direct status=none
check "16 MiB acknowledged (in the backing device's page cache)" true
dmsetup suspend --noudevsync --noflush jbf && dmsetup reload jbf <<<"0 $sectors error" && dmsetup resume --noudevsync jbf
out=$(ublk del -n "$id" 2>&1)
rc=$?
info "ublk del: exit $rc: $out"
check "del exits non-zero when the final flush fails" test $rc -ne 0
check "... naming the errno" grep -q "EIO" <<<"$out"
check "... in one line" test "$(wc -l <<<"$out")" -eq 1
check "the daemon's log says so" grep -q "final flush.*EIO" "$run_dir/ublk$id.log"
check "the device is gone all the same" test ! -e "/dev/ublkc$id"
dmsetup remove --noudevsync jbf
losetup -d "$lo"

dev=$(JUBLK_TEST_FAULT=flushing:sleep=40 add_device loop --file "$SCRATCH/f.img" --size 16M --buffered) || finish
id=$(dev_id "$dev")
pid=$(state_pid "$id")
t0=$SECONDS
out=$(ublk del -n "$id" --timeout 5 2>&1)
rc=$?
info "ublk del --timeout 5 of a server flushing for 40 s: exit $rc after $((SECONDS - t0)) s: $out"
check "del waited for the flushing server and succeeded" test $rc -eq 0
check "... saying why it waits" grep -q "flushing" <<<"$out"
check "... and the server was not killed" grep -q "stopped and deleted" "$run_dir/ublk$id.log"

check "no device left" test -z "$(ublk_ids)"
check "no ublk process left" test -z "$(ublk_procs)"
finish
