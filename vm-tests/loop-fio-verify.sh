#!/bin/bash
# Loop target, MODE direct|buffered, two queues: fio random writes with crc32c verification at 4k, 64k and 1M,
# iodepth 32; fio reads everything back and checks every block.
# vm-test: --disk 2G -- direct
# vm-test: --disk 2G -- buffered
# vm-test-seconds: 200
. "$(dirname "$0")/lib/scenario.sh"
mode=${1:?mode}
scratch_fs
dev=$(add_device loop --file "$SCRATCH/fio.img" --size 512M "$(mode_arg "$mode")" -q 2) || finish
for bs in 4k 64k 1M; do
  check "fio randwrite + verify crc32c, bs $bs, iodepth 32, 2 jobs" fio --name=v --filename="$dev" \
    --ioengine=io_uring --direct=1 --rw=randwrite --bs="$bs" --iodepth=32 --numjobs=2 --size=64M \
    --offset_increment=192M --verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=0 \
    --output-format=terse --group_reporting
done
check "fio sequential write + verify, bs 512k" fio --name=s --filename="$dev" --ioengine=io_uring --direct=1 \
  --rw=write --bs=512k --iodepth=16 --size=128M --verify=crc32c --verify_fatal=1 --output-format=terse
check "ublk del" ublk del -n "$(dev_id "$dev")"
finish
