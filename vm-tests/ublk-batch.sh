#!/bin/bash
# Batch I/O (`ublk add ... --batch`, UBLK_F_BATCH_IO): PREP_IO_CMDS once per queue, multishot FETCH_IO_CMDS and one
# COMMIT_IO_CMDS per loop turn instead of FETCH_REQ/COMMIT_AND_FETCH_REQ per tag. Data must be exactly as without
# it: null (1 queue) serves fio; loop (buffered, 2 queues, --zero-copy: elements name a buffer slot) passes fio's
# crc32c verify at 4k and 128k, QD 1 and 32, and its writes are in the file after `ublk del`; a kill -9 of the daemon
# and `ublk recover` keep the data and the device serving (the new server PREPs every tag again); nothing is left
# behind. Copying (elements carry the buffer's address), direct with 2 queues and buffered with 1, and answers from
# a target's own threads are the in-VM tier's BatchIoTest, which starts no JVM per device. JVM starts are kept few
# here too: the record, not `ublk list`, says what the kernel gave. 147-158 s on a loaded host.
# vm-test: --disk 1G
# vm-test-seconds: 170
. "$(dirname "$0")/lib/scenario.sh"
scratch_fs

# has_batch ID: the kernel settled the device's flags with UBLK_F_BATCH_IO (bit 15), as its record says.
has_batch() {
  local flags
  flags=$(grep -o '"flags" *: *"[^"]*"' "${JUBLK_RUN_DIR:-/run/jublk}/ublk$1.json" | head -n1 | sed 's/.*"\([^"]*\)"$/\1/')
  [[ -n $flags ]] && (( (0x${flags#0x} >> 15) & 1 ))
}

# verify LABEL DEV JOBS: randwrite + crc32c verify at 4k and 128k, QD 1 and 32; JOBS jobs 16 MiB apart.
verify() {
  local bs qd
  for bs in 4k 128k; do
    for qd in 1 32; do
      check "$1: fio randwrite + verify, bs $bs, QD $qd, $3 job(s)" fio --name=v --filename="$2" \
        --ioengine=io_uring --direct=1 --rw=randwrite --bs="$bs" --iodepth="$qd" --numjobs="$3" \
        --size=$([[ $bs == 4k ]] && echo 2M || echo 4M) \
        --offset_increment=16M --verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=0 \
        --output-format=terse --group_reporting
    done
  done
}

dev=$(add_device null --size 256M --batch -q 1) || finish
check "null: the device has BATCH_IO" has_batch "$(dev_id "$dev")"
check "null --batch: fio randrw 4k QD32, 2 jobs" fio --name=n --filename="$dev" --ioengine=io_uring --direct=1 \
  --rw=randrw --bs=4k --iodepth=32 --numjobs=2 --runtime=2 --time_based --output-format=terse --group_reporting
check "null --batch: ublk del" ublk del -n "$(dev_id "$dev")"

f=$SCRATCH/batch.img
head -c 64M /dev/urandom >"$f"
file_sha=$(sha "$f")
dev=$(add_device loop --file "$f" --buffered -q 2 --batch --zero-copy --recovery default) || finish
id=$(dev_id "$dev")
check "buffered, zero copy: the device has BATCH_IO" has_batch "$id"
expect_eq "buffered, zero copy: sha256 of $dev equals the file's" "$file_sha" "$(sha "$dev")"
verify "buffered, zero copy, 2 queues" "$dev" 2
head -c 8M /dev/urandom >/tmp/new.bin
dd if=/tmp/new.bin of="$dev" bs=1M seek=40 oflag=direct conv=fsync status=none
pid=$(state_pid "$id")
check "kill -9 of the daemon ($pid)" kill -9 "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
check "ublk recover -n $id" ublk recover -n "$id"
expect_eq "after recovery the device reads what was written before the kill" "$(sha /tmp/new.bin)" \
  "$(dd if="$dev" bs=1M skip=40 count=8 iflag=direct status=none | sha256sum | cut -d' ' -f1)"
check "after recovery: fio randwrite + verify, bs 4k, QD 32" fio --name=r --filename="$dev" --ioengine=io_uring \
  --direct=1 --rw=randwrite --bs=4k --iodepth=32 --size=4M --verify=crc32c --verify_fatal=1 --do_verify=1 \
  --randrepeat=0 --output-format=terse
dev_sha=$(sha "$dev")
check "buffered, zero copy: ublk del" ublk del -n "$id"
expect_eq "buffered, zero copy: the file holds what the device held" "$dev_sha" "$(sha "$f")"

info "$SECONDS s so far"

check "no device left" test -z "$(ublk_ids)"
check "no ublk process left" test -z "$(ublk_procs)"
finish
