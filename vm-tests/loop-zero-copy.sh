#!/bin/bash
# Loop target with zero copy (UBLK_F_AUTO_BUF_REG, loop's default where the kernel offers it, as here; --zero-copy
# insists on it, --no-zero-copy copies): the kernel registers each request's pages in the queue's io_uring and the
# backing file's reads and writes use them directly. The data must be exactly as without it:
# the device reads what the file holds, fio's crc32c verify passes at 4k and 1M with two queues, writes are in
# the file after `ublk del`, and an ext4 on it checks clean. Direct I/O first, then the page cache (content
# only: the buffered path differs from the direct one only in the backing file's open flags).
# vm-test: --disk 2G
# vm-test-seconds: 250
. "$(dirname "$0")/lib/scenario.sh"
scratch_fs

if ! ublk features | grep -q AUTO_BUF_REG; then
  fail "this kernel has no UBLK_F_AUTO_BUF_REG (the test VM's 7.3 kernel has it)"
  finish
fi

f=$SCRATCH/zc.img
head -c 64M /dev/urandom >"$f"
file_sha=$(sha "$f")

# direct: zero copy by default (and the record says it was settled so); buffered: asked for.
for mode in direct buffered; do
  if [[ $mode == direct ]]; then
    dev=$(add_device loop --file "$f" "$(mode_arg "$mode")" -q 2) || finish
  else
    dev=$(add_device loop --file "$f" "$(mode_arg "$mode")" --zero-copy -q 2) || finish
  fi
  id=$(dev_id "$dev")
  json=$(ublk list -n "$id" --json)
  check "$mode: the device has AUTO_BUF_REG" grep -q AUTO_BUF_REG <<<"$json"
  check "$mode: ublk list says zero_copy" grep -q '"zero_copy":true' <<<"$json"
  drop_caches
  expect_eq "$mode: sha256 of $dev equals the file's" "$file_sha" "$(sha "$dev")"

  # New data through the device: O_DIRECT 1 MiB writes, and 4 KiB writes through the page cache.
  head -c 8M /dev/urandom >/tmp/new.bin
  dd if=/tmp/new.bin of="$dev" bs=1M seek=32 oflag=direct status=none
  dd if=/tmp/new.bin of="$dev" bs=4k seek=$(( (48 << 20) / 4096 )) count=512 status=none conv=fsync
  if [[ $mode == direct ]]; then
    for bs in 4k 1M; do
      check "$mode: fio randwrite + verify crc32c, bs $bs, iodepth 32, 2 jobs" fio --name=v --filename="$dev" \
        --ioengine=io_uring --direct=1 --rw=randwrite --bs="$bs" --iodepth=32 --numjobs=2 --size=12M \
        --offset_increment=16M --verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=0 \
        --output-format=terse --group_reporting
    done
  fi
  check "$mode: ublk del" ublk del -n "$id"
  expect_eq "$mode: the file holds the O_DIRECT writes after del" "$(sha /tmp/new.bin)" \
    "$(dd if="$f" bs=1M skip=32 count=8 status=none | sha256sum | cut -d' ' -f1)"
  expect_eq "$mode: the file holds the buffered writes after del" "$(sha /tmp/new.bin $((512 * 4096)))" \
    "$(dd if="$f" bs=4k skip=$(( (48 << 20) / 4096 )) count=512 status=none | sha256sum | cut -d' ' -f1)"
  file_sha=$(sha "$f")
done

dev=$(add_device loop --file "$SCRATCH/fs.img" --size 256M --zero-copy) || finish
check "ext4 on a zero-copy device: mkfs" mkfs.ext4 -q -F "$dev"
mkdir -p /mnt/u
check "mount" mount "$dev" /mnt/u
check "copy /usr/share/doc/fio in" cp -a /usr/share/doc/fio /mnt/u/tree
check "umount" umount /mnt/u
check "e2fsck -fn is clean" e2fsck -fn "$dev"
drop_caches
check "mount again" mount "$dev" /mnt/u
check "the tree is identical" diff -r --no-dereference /usr/share/doc/fio /mnt/u/tree
umount /mnt/u
check "ublk del" ublk del -n "$(dev_id "$dev")"
dev=$(add_device loop --file "$SCRATCH/fs.img" --no-zero-copy) || finish
json=$(ublk list -n "$(dev_id "$dev")" --json)
check "--no-zero-copy: the device has no AUTO_BUF_REG" bash -c '! grep -q AUTO_BUF_REG <<<"$1"' _ "$json"
check "--no-zero-copy: ublk list says zero_copy false" grep -q '"zero_copy":false' <<<"$json"
check "--no-zero-copy: e2fsck -fn is clean" e2fsck -fn "$dev"
check "ublk del" ublk del -n "$(dev_id "$dev")"
expect_fail "--zero-copy is a loop option only" ublk add null --size 64M --zero-copy
check "no ublk process left" test -z "$(ublk_procs)"
finish
