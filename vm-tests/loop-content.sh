#!/bin/bash
# Loop target, MODE direct|buffered: the device reads exactly what the file holds (sha256 of 256 MiB of random
# data), data written through the device is in the file after `ublk del`, the kernel loop driver reads the
# same file identically, and the mode is real (O_DIRECT on the daemon's backing descriptor, or not).
# vm-test: --disk 2G -- direct
# vm-test: --disk 2G -- buffered
# vm-test-seconds: 150
. "$(dirname "$0")/lib/scenario.sh"
mode=${1:?mode}
scratch_fs
f=$SCRATCH/backing.img
head -c 256M /dev/urandom >"$f"
file_sha=$(sha "$f")

dev=$(add_device loop --file "$f" "$(mode_arg "$mode")" -q 2) || finish
id=$(dev_id "$dev")
expect_eq "device size = file size" $((256 << 20)) "$(blockdev --getsize64 "$dev")"
drop_caches
expect_eq "sha256 of $dev equals the file's" "$file_sha" "$(sha "$dev")"

loopdev=$(losetup -f --show -r "$f")
expect_eq "the kernel loop driver reads the same" "$file_sha" "$(sha "$loopdev")"
losetup -d "$loopdev"

pid=$(daemon_pid "$id")
fdinfo_flags() { # octal open flags of each of the daemon's descriptors on $f
  local fd
  for fd in /proc/"$pid"/fd/*; do
    if [[ "$(readlink "$fd")" == "$f" ]]; then awk '/^flags:/ {print $2}' /proc/"$pid"/fdinfo/"${fd##*/}"; fi
  done
}
direct=0
for flags in $(fdinfo_flags); do
  info "a daemon's descriptor on $f: flags $flags"
  (((8#$flags & 8#40000) != 0)) && direct=$((direct + 1))
done
# Direct mode keeps a buffered descriptor too, for what O_DIRECT cannot do (an unaligned rest of a short transfer).
if [[ $mode == direct ]]; then
  expect_eq "one descriptor with O_DIRECT (040000) in direct mode" 1 "$direct"
else
  expect_eq "no descriptor with O_DIRECT in buffered mode" 0 "$direct"
fi
check "ublk list shows mode $mode and the file" sh -c "ublk list -n $id | grep -q ' $mode .*$f'"

# Write 32 MiB of new random data through the device at 100 MiB, with a mix of sizes, then delete.
head -c 32M /dev/urandom >/tmp/new.bin
dd if=/tmp/new.bin of="$dev" bs=1M seek=100 oflag=direct status=none
dd if=/tmp/new.bin of="$dev" bs=4k seek=$(( (200 << 20) / 4096 )) count=1000 status=none conv=fsync
check "ublk del" ublk del -n "$id"
expect_eq "the file holds the O_DIRECT writes after del" "$(sha /tmp/new.bin)" \
  "$(dd if="$f" bs=1M skip=100 count=32 status=none | sha256sum | cut -d' ' -f1)"
expect_eq "the file holds the buffered writes after del" "$(sha /tmp/new.bin $((1000 * 4096)))" \
  "$(dd if="$f" bs=4k skip=$(( (200 << 20) / 4096 )) count=1000 status=none | sha256sum | cut -d' ' -f1)"
expect_eq "file size unchanged" $((256 << 20)) "$(stat -c %s "$f")"
finish
