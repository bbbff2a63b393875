#!/bin/bash
# Bad input to `ublk add loop`: one clear line, non-zero exit, nothing created or left behind; --read-only
# serves a file that cannot be written.
# vm-test: --disk 1G
# vm-test-seconds: 370
. "$(dirname "$0")/lib/scenario.sh"
scratch_fs
before=$(ublk_ids | wc -l)
expect_fail "missing file without --size" ublk add loop --file "$SCRATCH/none.img"
check "... and it was not created" test ! -e "$SCRATCH/none.img"
expect_fail "size not a multiple of the block size" ublk add loop --file "$SCRATCH/odd.img" --size 1000
check "... and nothing was created" test ! -e "$SCRATCH/odd.img"
expect_fail "a directory" ublk add loop --file "$SCRATCH"
expect_fail "a character device" ublk add loop --file /dev/null
dev=$(add_device null --size 64M) || finish
expect_fail "a ublk block device" ublk add loop --file "$dev"
expect_fail "a ublk char device" ublk add loop --file "/dev/ublkc$(dev_id "$dev")"
ln -s "$dev" "$SCRATCH/alias"
expect_fail "a symlink to a ublk device" ublk add loop --file "$SCRATCH/alias"
ublk del -n "$(dev_id "$dev")"
mkdir -p /mnt/ro && mount -t tmpfs -o size=8m tmpfs /mnt/ro && echo data >/mnt/ro/file.img && mount -o remount,ro /mnt/ro
ro=/mnt/ro/file.img
expect_fail "a file that cannot be opened read-write" ublk add loop --file "$ro"
expect_fail "--size larger than a read-only file" ublk add loop --file "$ro" --size 1G --read-only
expect_eq "no device left behind" "$before" "$(ublk_ids | wc -l)"
check "no ublk process left" test -z "$(ublk_procs)"

dd if=/dev/urandom of="$SCRATCH/data.img" bs=1M count=16 status=none
chmod 0444 "$SCRATCH/data.img"
mount -o remount,ro "$SCRATCH"
dev=$(add_device loop --file "$SCRATCH/data.img" --read-only) || finish
expect_eq "--read-only: the device is read-only" 1 "$(blockdev --getro "$dev")"
expect_eq "--read-only: it reads the file" "$(sha "$SCRATCH/data.img")" "$(sha "$dev")"
check "--read-only: writes are refused" sh -c "! dd if=/dev/zero of=$dev bs=4k count=1 oflag=direct 2>/dev/null"
ublk del -n "$(dev_id "$dev")"
mount -o remount,rw "$SCRATCH"
size=$(( (16 << 20) + 1000 ))
head -c "$size" /dev/urandom >"$SCRATCH/ragged.img"
dev=$(add_device loop --file "$SCRATCH/ragged.img") || finish
expect_eq "without --size: the file's size rounded down to the block size" $(( size - size % 512 )) \
  "$(blockdev --getsize64 "$dev")"
ublk del -n "$(dev_id "$dev")"
expect_eq "the file is untouched" "$size" "$(stat -c %s "$SCRATCH/ragged.img")"
finish
