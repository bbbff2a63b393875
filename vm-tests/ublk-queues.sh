#!/bin/bash
# -q 2 -d 64: two hardware queues, each with its own thread; fio with two jobs runs clean.
# vm-test:
# vm-test-seconds: 75
. "$(dirname "$0")/lib/scenario.sh"

dev=$(add_device null --size 512M -q 2 -d 64) || finish
name=${dev#/dev/}
id=$(dev_id "$dev")
expect_eq "two hardware queues in /sys/block/$name/mq" 2 "$(ls "/sys/block/$name/mq" | wc -l)"
expect_eq "queue depth 64" 64 "$(cat "/sys/block/$name/mq/0/nr_tags")"
pid=$(daemon_pid "$id")
threads=$(ls /proc/"$pid"/task | while read -r t; do cat /proc/"$pid"/task/"$t"/comm; done | grep -c "^ublk$id-q")
expect_eq "two queue threads in the daemon" 2 "$threads"
check "fio, 2 jobs, randrw, iodepth 32" fio --name=q --filename="$dev" --ioengine=io_uring --direct=1 \
  --rw=randrw --bs=4k --iodepth=32 --numjobs=2 --size=128M --runtime=5 --time_based --group_reporting \
  --output-format=terse
check "ublk del" ublk del -n "$id"
check "no device left" test -z "$(ublk_ids)"
finish
