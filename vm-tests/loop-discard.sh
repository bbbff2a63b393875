#!/bin/bash
# Loop target, MODE direct|buffered: discard and write-zeroes are advertised on ext4, `blkdiscard` and
# `blkdiscard -z` read back as zeros, and a discard frees the backing file's blocks (holes). A device on a
# prefix of a larger file never changes a byte past its end.
# vm-test: --disk 2G -- direct
# vm-test: --disk 2G -- buffered
# vm-test-seconds: 90
. "$(dirname "$0")/lib/scenario.sh"
mode=${1:?mode}
scratch_fs
f=$SCRATCH/d.img
dev=$(add_device loop --file "$f" --size 256M "$(mode_arg "$mode")") || finish
name=${dev#/dev/}
check "discard advertised (discard_max_bytes > 0)" test "$(cat /sys/block/"$name"/queue/discard_max_bytes)" -gt 0
check "write zeroes advertised" test "$(cat /sys/block/"$name"/queue/write_zeroes_max_bytes)" -gt 0
dd if=/dev/urandom of="$dev" bs=1M count=256 oflag=direct status=none
sync
blocks_full=$(stat -c %b "$f")
info "backing file: $blocks_full blocks after filling"
check "blkdiscard of the first 128 MiB" blkdiscard -o 0 -l $((128 << 20)) "$dev"
drop_caches
check "discarded range reads as zeros" cmp -n $((128 << 20)) "$dev" /dev/zero
sync
blocks_after=$(stat -c %b "$f")
info "backing file: $blocks_after blocks after discard"
check "the file shrank by about 128 MiB (holes)" test $((blocks_full - blocks_after)) -ge $(((120 << 20) / 512))
check "blkdiscard -z of the next 64 MiB (write zeroes)" blkdiscard -z -o $((128 << 20)) -l $((64 << 20)) "$dev"
drop_caches
check "zeroed range reads as zeros" cmp -n $((64 << 20)) <(dd if="$dev" bs=1M skip=128 count=64 status=none) /dev/zero
check "the rest is untouched (not zero)" bash -c "! cmp -s -n 1048576 <(dd if=$dev bs=1M skip=192 count=1 status=none) /dev/zero"
check "ublk del" ublk del -n "$(dev_id "$dev")"

# A device on the first 16 MiB of a 64 MiB file never touches the rest: not at add (no probing in the file),
# not by discard or write-zeroes, not at del.
big=$SCRATCH/big.img
dd if=/dev/urandom of="$big" bs=1M count=64 status=none
tail_before=$(tail -c $((48 << 20)) "$big" | sha256sum)
blocks_before=$(stat -c %b "$big")
dev=$(add_device loop --file "$big" --size 16M "$(mode_arg "$mode")") || finish
check "blkdiscard of the whole 16 MiB device" blkdiscard "$dev"
check "blkdiscard -z of the whole device" blkdiscard -z "$dev"
check "ublk del" ublk del -n "$(dev_id "$dev")"
expect_eq "the 48 MiB past the device are unchanged" "$tail_before" "$(tail -c $((48 << 20)) "$big" | sha256sum)"
expect_eq "the file keeps its size" $((64 << 20)) "$(stat -c %s "$big")"
check "the file lost only the device's blocks" test $((blocks_before - $(stat -c %b "$big"))) -le $(((16 << 20) / 512))
finish
