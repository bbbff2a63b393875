#!/bin/bash
# Loop target, MODE direct|buffered: a backing file on a small tmpfs that fills up makes writes fail with
# ENOSPC (not a hang, not a crash); the device stays readable and the daemon alive; the failures are counted
# in the daemon and logged once. And tmpfs has no FALLOC_FL_ZERO_RANGE: a write-zeroes that must not unmap
# (blkdiscard -z) gets EOPNOTSUPP from jublk, the block layer writes the zeros, and the file keeps its blocks.
# vm-test: -- direct
# vm-test: -- buffered
# vm-test-seconds: 75
. "$(dirname "$0")/lib/scenario.sh"
mode=${1:?mode}
mkdir -p /mnt/tiny && mount -t tmpfs -o size=32m tmpfs /mnt/tiny
out=$(ublk add loop --file /mnt/tiny/b.img --size 128M "$(mode_arg "$mode")" 2>&1) || { fail "add: $out"; finish; }
dev=$(tail -n1 <<<"$out")
info "ublk add said: $(tr '\n' '|' <<<"$out")"
id=$(dev_id "$dev")
pid=$(daemon_pid "$id")
dd if=/dev/urandom of=/tmp/pattern bs=1M count=8 status=none
check "a write that fits succeeds" dd if=/tmp/pattern of="$dev" bs=1M count=8 oflag=direct status=none
err=$(dd if=/dev/zero of="$dev" bs=1M seek=8 count=100 oflag=direct 2>&1)
rc=$?
info "dd past the tmpfs size: $(tail -n1 <<<"$err")"
check "writing past the backing file system's space fails" test $rc -ne 0
check "... with 'No space left on device'" grep -q "No space left on device" <<<"$err"
check "the daemon is still alive" kill -0 "$pid"
drop_caches
check "the device still reads (first 8 MiB as written)" cmp -n $((8 << 20)) "$dev" /tmp/pattern
check "reads anywhere still work" dd if="$dev" of=/dev/null bs=1M count=128 iflag=direct status=none
check "rewriting blocks the file already has still works" dd if=/tmp/pattern of="$dev" bs=1M count=8 seek=16 oflag=direct \
  status=none
blocks=$(stat -c %b /mnt/tiny/b.img)
check "blkdiscard -z (REQ_NOUNMAP) of 1 MiB of those blocks" blkdiscard -z -o $((16 << 20)) -l $((1 << 20)) "$dev"
drop_caches
check "... reads as zeros" cmp -n $((1 << 20)) <(dd if="$dev" bs=1M skip=16 count=1 iflag=direct status=none) /dev/zero
check "... and the file kept its blocks ($blocks; no hole punched)" test "$(stat -c %b /mnt/tiny/b.img)" -eq "$blocks"
check "ublk del" ublk del -n "$id"
n=$(grep -c "failed with ENOSPC" /run/jublk/ublk"$id".log 2>/dev/null || true)
check "ENOSPC was logged once per queue, not per request ($n)" test "${n:-0}" -le 1
umount /mnt/tiny
finish
