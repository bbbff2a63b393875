#!/bin/bash
# Two devices at once, both usable, then `ublk del --all` removes both.
# vm-test:
# vm-test-seconds: 100
. "$(dirname "$0")/lib/scenario.sh"

a=$(add_device null --size 128M) || finish
b=$(add_device null --size 256M -q 2) || finish
check "two different devices ($a, $b)" test "$a" != "$b"
expect_eq "sizes" "134217728 268435456" "$(blockdev --getsize64 "$a") $(blockdev --getsize64 "$b")"
check "fio on both at once" fio --ioengine=io_uring --direct=1 --rw=randrw --bs=4k --iodepth=16 --size=64M \
  --runtime=3 --time_based --output-format=terse --name=a --filename="$a" --name=b --filename="$b"
expect_eq "ublk list shows two" 2 "$(ublk list --json | grep -o '"id":' | wc -l)"
check "ublk del --all" ublk del --all
check "no device left" test -z "$(ublk_ids)"
check "no ublk process left" test -z "$(ublk_procs)"
finish
