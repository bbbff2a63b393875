#!/bin/bash
# Backing-store faults: each affected request fails with the errno the backing store gave, other requests
# keep working, the daemon stays up, the errors are counted (metrics) and logged once per kind.
#  - EIO: a device-mapper 'error' segment in the middle of the backing block device;
#  - read-only backing store: the dm device reloaded read-only under the live ublk device;
#  - a backing file truncated under the live device: reads past its new end fail with EIO.
# (ENOSPC is loop-errors.sh.)
# vm-test: --disk 1G
# vm-test-seconds: 150
. "$(dirname "$0")/lib/scenario.sh"
modprobe dm_mod || { fail "modprobe dm_mod"; finish; }
mb() { echo $(($1 * 2048)); } # MiB -> sectors
table_err="0 $(mb 32) linear /dev/vda 0
$(mb 32) $(mb 8) error
$(mb 40) $(mb 88) linear /dev/vda $(mb 40)"
dmsetup create --noudevsync jb <<<"$table_err" && dmsetup mknodes jb || { fail "dmsetup create"; finish; }
bd=/dev/mapper/jb
dev=$(add_device loop --file "$bd" --metrics-port 9400) || finish
id=$(dev_id "$dev")
pid=$(daemon_pid "$id")
expect_eq "device size = dm device size" $((128 << 20)) "$(blockdev --getsize64 "$dev")"
err=$(dd if="$dev" of=/dev/null bs=4k skip=$(( (34 << 20) / 4096 )) count=1 iflag=direct 2>&1)
check "a read in the error segment fails with EIO" grep -q "Input/output error" <<<"$err"
err=$(dd if=/dev/zero of="$dev" bs=4k seek=$(( (36 << 20) / 4096 )) count=1 oflag=direct 2>&1)
check "a write in the error segment fails with EIO" grep -q "Input/output error" <<<"$err"
check "reads before the segment work" dd if="$dev" of=/dev/null bs=1M count=32 iflag=direct status=none
check "reads after the segment work" dd if="$dev" of=/dev/null bs=1M skip=40 count=88 iflag=direct status=none
check "writes outside the segment work" dd if=/dev/urandom of="$dev" bs=1M seek=50 count=4 oflag=direct status=none
for i in $(seq 20); do dd if="$dev" of=/dev/null bs=4k skip=$(( (33 << 20) / 4096 + i )) count=1 iflag=direct \
  status=none 2>/dev/null; done
check "the daemon is alive" kill -0 "$pid"
metrics=$(curl -s 127.0.0.1:9400/metrics)
eio=$(grep -E '^ublk_errors_total\{.*errno="EIO"' <<<"$metrics" | awk '{s += $2} END {print s + 0}')
check "EIO answers are counted (ublk_errors_total{errno=EIO} = $eio >= 22)" test "${eio%.*}" -ge 22
check "failures are counted by operation" grep -qE '^ublk_request_failures_total\{.*op="read".*\} [1-9]' <<<"$metrics"
n=$(grep -c "failed with EIO" /run/jublk/ublk"$id".log)
q=$(ls /sys/block/"${dev#/dev/}"/mq | wc -l)
check "EIO logged once per queue ($q), not per request: $n lines" test "$n" -ge 1 -a "$n" -le "$q"

# The backing store turns read-only under the live device.
dmsetup suspend --noudevsync jb && dmsetup reload --readonly jb <<<"0 $(mb 128) linear /dev/vda 0" &&
  dmsetup resume --noudevsync jb || fail "dmsetup reload --readonly"
err=$(dd if=/dev/zero of="$dev" bs=4k seek=100 count=1 oflag=direct 2>&1)
rc=$?
info "write to a read-only backing store: $(tail -n1 <<<"$err")"
check "a write to the now read-only backing store fails" test $rc -ne 0
check "... with an I/O error or read-only error" grep -qE "Input/output error|Read-only|Operation not permitted" <<<"$err"
check "reads still work" dd if="$dev" of=/dev/null bs=1M count=16 iflag=direct status=none
check "the daemon is alive" kill -0 "$pid"
check "ublk del" ublk del -n "$id"
dmsetup remove --noudevsync jb

# A backing file truncated under the live device.
mkdir -p /mnt/t && mount -t tmpfs -o size=128m tmpfs /mnt/t
head -c 64M /dev/urandom >/mnt/t/f.img
dev=$(add_device loop --file /mnt/t/f.img --buffered) || finish
id=$(dev_id "$dev")
pid=$(daemon_pid "$id")
truncate -s 32M /mnt/t/f.img
drop_caches
check "reads before the new end still return the data" cmp -n $((32 << 20)) "$dev" /mnt/t/f.img
err=$(dd if="$dev" of=/dev/null bs=4k skip=$(( (48 << 20) / 4096 )) count=1 iflag=direct 2>&1)
check "a read past the truncated end fails with EIO" grep -q "Input/output error" <<<"$err"
check "the daemon is alive" kill -0 "$pid"
check "ublk del" ublk del -n "$id"
umount /mnt/t
finish
