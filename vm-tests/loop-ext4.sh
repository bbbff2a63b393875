#!/bin/bash
# Loop target, MODE direct|buffered: mkfs.ext4 on the device, mount, copy a directory tree in, umount,
# e2fsck -fn is clean, mount again and the tree is identical.
# vm-test: --disk 2G -- direct
# vm-test: --disk 2G -- buffered
# vm-test-seconds: 200
. "$(dirname "$0")/lib/scenario.sh"
mode=${1:?mode}
scratch_fs
dev=$(add_device loop --file "$SCRATCH/fs.img" --size 768M "$(mode_arg "$mode")") || finish
check "mkfs.ext4" mkfs.ext4 -q -F "$dev"
mkdir -p /mnt/u
check "mount" mount "$dev" /mnt/u
src=/usr/share/doc
check "copy $src into it" cp -a "$src" /mnt/u/tree
info "$(du -sh /mnt/u/tree | cut -f1) in $(find /mnt/u/tree | wc -l) entries"
check "umount" umount /mnt/u
check "e2fsck -fn is clean" e2fsck -fn "$dev"
drop_caches
check "mount again" mount "$dev" /mnt/u
check "the tree is identical (diff -r)" diff -r --no-dereference "$src" /mnt/u/tree
umount /mnt/u
check "ublk del" ublk del -n "$(dev_id "$dev")"
finish
