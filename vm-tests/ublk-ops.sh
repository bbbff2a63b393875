#!/bin/bash
# Operations on live devices: `ublk resize` grows a loop device under a mounted ext4 (its backing file is extended,
# resize2fs grows the file system online) and its record follows, so a recovery after it still serves the file;
# shrinking needs --force and never shortens the file; `ublk del --safe` refuses a mounted device, which keeps
# serving, and deletes an unused one; --no-partition-scan keeps the kernel from reading a partition table.
# vm-test: --disk 1G
# vm-test-seconds: 200
. "$(dirname "$0")/lib/scenario.sh"
scratch_fs
run_dir=${JUBLK_RUN_DIR:-/run/jublk}
export JUBLK_DAEMON_JAVA_OPTS="${JUBLK_DAEMON_JAVA_OPTS:-} -XX:TieredStopAtLevel=1"
mib() { echo $(($1 << 20)); }

# --- resize --------------------------------------------------------------------------------------------------------
f=$SCRATCH/g.img
dev=$(add_device loop --file "$f" --size 64M --recovery) || finish
id=$(dev_id "$dev")
mkfs.ext4 -q "$dev" && mkdir -p /mnt/g && mount "$dev" /mnt/g || { fail "mkfs/mount"; finish; }
head -c 20M /dev/urandom >/mnt/g/data && sync
want=$(sha256sum </mnt/g/data)
check "resize grows the device to 128 MiB" ublk resize -n "$id" --size 128M
expect_eq "the kernel sees 128 MiB" "$(mib 128)" "$(blockdev --getsize64 "$dev")"
expect_eq "the backing file grew with it" "$(mib 128)" "$(stat -c %s "$f")"
check "resize2fs grows the mounted ext4 online" resize2fs "$dev"
size_kib=$(df -k --output=size /mnt/g | tail -n1 | tr -d ' ')
check "the file system is larger now (${size_kib} KiB)" test "$size_kib" -gt $((100 << 10))
head -c 60M /dev/urandom >/mnt/g/more && sync
check "... and takes data past the old end" test "$(stat -c %s /mnt/g/more)" -eq "$(mib 60)"
check "the record has the new size" grep -q "\"size\" : $(mib 128)" "$run_dir/ublk$id.json"
expect_fail "shrinking without --force is refused" ublk resize -n "$id" --size 96M
expect_fail "resize to a size that is not whole blocks" ublk resize -n "$id" --size $(( (128 << 20) + 100 ))
expect_fail "del --safe of a mounted device is refused" ublk del --safe -n "$id"
expect_eq "... and the device still serves the file system" "$want" "$(sha256sum </mnt/g/data)"
# A recovery after the resize finds the file as the record says it is now.
kill -9 "$(state_pid "$id")"
for _ in $(seq 60); do [[ "$(ublk list -n "$id" --json 2>/dev/null)" == *'"state":"quiesced"'* ]] && break; sleep 0.5; done
check "recover after the resize" ublk recover -n "$id"
drop_caches
expect_eq "the data is there after the recovery" "$want" "$(sha256sum </mnt/g/data)"
rm -f /mnt/g/more   # 20 + 60 MiB of files would not fit the 80 MiB the file system is shrunk to below
check "umount" umount /mnt/g
check "e2fsck -fn is clean" e2fsck -fn "$dev"
check "resize2fs shrinks the file system to 80 MiB (after the e2fsck -f it asks for)" \
  sh -c "e2fsck -fp $dev >/dev/null && resize2fs $dev 80M"
check "resize --force shrinks the device to 96 MiB" ublk resize -n "$id" --size 96M --force
expect_eq "the kernel sees 96 MiB" "$(mib 96)" "$(blockdev --getsize64 "$dev")"
expect_eq "the backing file is not shortened" "$(mib 128)" "$(stat -c %s "$f")"
check "e2fsck -fn is clean after the shrink" e2fsck -fn "$dev"
check "del --safe of an unused device" ublk del --safe -n "$id"
check "... deletes it" test ! -e "/dev/ublkc$id"

# --- partition scan ----------------------------------------------------------------------------------------------
p=$SCRATCH/p.img
dev=$(add_device loop --file "$p" --size 64M) || finish
id=$(dev_id "$dev")
# An MBR by hand (no partitioning tool needed): one Linux partition at sector 2048, 32768 sectors long.
printf '\x00\x00\x00\x00\x83\x00\x00\x00\x00\x08\x00\x00\x00\x80\x00\x00' |
  dd of="$dev" bs=1 seek=446 conv=notrunc status=none
printf '\x55\xaa' | dd of="$dev" bs=1 seek=510 conv=notrunc oflag=sync status=none
check "a partition table is written" test "$(od -An -tx1 -j510 -N2 "$dev" | tr -d ' ')" = 55aa
check "ublk del" ublk del -n "$id"
dev=$(add_device loop --file "$p" --no-partition-scan) || finish
id=$(dev_id "$dev")
sleep 1
check "with --no-partition-scan the kernel did not read it" test ! -e "/sys/block/ublkb$id/ublkb${id}p1"
check "ublk del" ublk del -n "$id"
dev=$(add_device loop --file "$p") || finish
id=$(dev_id "$dev")
for _ in $(seq 20); do [[ -e /sys/block/ublkb$id/ublkb${id}p1 ]] && break; sleep 0.5; done
check "without it the kernel finds the partition" test -e "/sys/block/ublkb$id/ublkb${id}p1"
check "ublk del" ublk del -n "$id"
check "no device left" test -z "$(ublk_ids)"
finish
