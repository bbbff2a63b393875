#!/bin/bash
# Loop target, MODE direct|buffered: the device has a volatile write cache with FUA, and fio jobs that flush
# after every write (fsync=1) and write O_DIRECT|O_SYNC (FUA) run clean and verify.
# vm-test: --disk 2G -- direct
# vm-test: --disk 2G -- buffered
# vm-test-seconds: 130
. "$(dirname "$0")/lib/scenario.sh"
mode=${1:?mode}
scratch_fs
dev=$(add_device loop --file "$SCRATCH/f.img" --size 256M "$(mode_arg "$mode")") || finish
name=${dev#/dev/}
expect_eq "queue/write_cache" "write back" "$(cat /sys/block/"$name"/queue/write_cache)"
expect_eq "queue/fua" 1 "$(cat /sys/block/"$name"/queue/fua)"
check "fio randwrite with fsync=1 (a FLUSH after every write), verified" fio --name=fs --filename="$dev" \
  --ioengine=psync --rw=randwrite --bs=4k --size=16M --fsync=1 --verify=crc32c --verify_fatal=1 \
  --output-format=terse
check "fio direct+sync writes (FUA), iodepth 8, verified" fio --name=fua --filename="$dev" --ioengine=io_uring \
  --direct=1 --sync=1 --rw=randwrite --bs=16k --iodepth=8 --size=32M --verify=crc32c --verify_fatal=1 \
  --output-format=terse
check "ublk del" ublk del -n "$(dev_id "$dev")"
finish
