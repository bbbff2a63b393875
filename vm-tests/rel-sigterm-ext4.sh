#!/bin/bash
# SIGTERM to the daemon while ext4 on the device takes heavy writes, MODE direct|buffered: the daemon stops the
# device cleanly and exits; served again from the same file, the file system mounts, every file written
# before the last `sync` is intact, and e2fsck -fn is clean. (And `ublk list` shows the device's mode and file.)
# vm-test: --disk 2G -- direct
# vm-test: --disk 2G -- buffered
# vm-test-seconds: 170
. "$(dirname "$0")/lib/scenario.sh"
mode=${1:?mode}
scratch_fs
f=$SCRATCH/fs.img
dev=$(add_device loop --file "$f" --size 512M "$(mode_arg "$mode")") || finish
id=$(dev_id "$dev")
pid=$(daemon_pid "$id")
check "ublk list shows mode $mode and the file" sh -c "ublk list -n $id | grep -q ' $mode .*$f'"
mkfs.ext4 -q "$dev" && mkdir -p /mnt/u && mount "$dev" /mnt/u || { fail "mkfs/mount"; finish; }
mkdir /mnt/u/safe
for i in $(seq 1 20); do head -c $((256 << 10)) /dev/urandom >/mnt/u/safe/f$i; done
cp -a /usr/share/doc/fio /mnt/u/safe/tree
(cd /mnt/u/safe && find . -type f -exec sha256sum {} + | sort -k2) >/tmp/safe.sums
sync
info "$(wc -l </tmp/safe.sums) files synced"
( i=0; while :; do dd if=/dev/urandom of=/mnt/u/busy$((i % 8)) bs=256k count=8 conv=notrunc status=none 2>/dev/null \
    || break; i=$((i + 1)); done ) &
writer=$!
sleep 5
kill -TERM "$pid"
for _ in $(seq 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
check "the daemon exited after SIGTERM, with the file system still mounted" sh -c "! kill -0 $pid 2>/dev/null"
check "its device is gone" test ! -e "$dev"
kill $writer 2>/dev/null
wait $writer 2>/dev/null
umount -l /mnt/u
check "no device left (the daemon deleted it)" test -z "$(ublk_ids)"
dev=$(add_device loop --file "$f" "$(mode_arg "$mode")") || finish
check "the file system mounts again (journal replayed)" mount "$dev" /mnt/u
check "every file written before the last sync is intact" \
  sh -c "cd /mnt/u/safe && find . -type f -exec sha256sum {} + | sort -k2 | diff - /tmp/safe.sums"
umount /mnt/u
check "e2fsck -fn is clean" e2fsck -fn "$dev"
check "ublk del" ublk del -n "$(dev_id "$dev")"
finish
