#!/bin/bash
# The README's iSCSI and NFS commands end to end in the guest, as a user would run them, over loopback:
#  * tgt's userspace target (tgtd) on 127.0.0.1:3260 with a LUN backed by a file on the scratch disk; the
#    README's `qemu-nbd --fork --persistent -k /run/lun1.sock -f raw --cache=none iscsi://...` and
#    `ublk add nbd --socket /run/lun1.sock`;
#  * NFS-Ganesha (FSAL VFS, NFSv3, behind rpcbind) exporting /export; the README's
#    `qemu-nbd ... nfs://127.0.0.1/export/images/disk.img` and `ublk add nbd --socket /run/nfs-disk.sock`;
#  * on each device: fio --verify=crc32c, mkfs.ext4 + a tree copied in and compared + e2fsck -fn clean, then the
#    device deleted and the file at the far end checked with e2fsck -fn directly.
# Not in the CI set (no vm-test line, on purpose): RemoteStorageThroughQemuNbdTest runs the same servers and
# qemu-nbd commands on the host in seconds; this is the by-hand check through ublk. Run it with
#   vm-tests/run --disk 1G remote-storage.sh
# Needs on the host: tgt, nfs-ganesha, nfs-ganesha-vfs, qemu-utils, qemu-block-extra (the guest sees the host's /).
. "$(dirname "$0")/lib/scenario.sh"
w=/tmp/remote
mkdir -p $w
scratch_fs
info "tgt $(tgtd --version 2>&1 | head -n1); $(ganesha.nfsd -v 2>&1 | head -n1); $(qemu-nbd --version | head -n1)"

fio_verify() { # DEV NAME
  fio --name="$2" --filename="$1" --ioengine=io_uring --direct=1 --rw=randwrite --bs=64k --iodepth=16 --size=48M \
    --verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=0 --output-format=terse >$w/fio-"$2".out 2>&1
}
ext4_tree() { # DEV: mkfs, the repository's sources copied in, compared after a remount, e2fsck clean
  local dev=$1
  mkfs.ext4 -q -F "$dev" && mkdir -p $w/mnt && mount "$dev" $w/mnt && cp -a src/main $w/mnt/ && umount $w/mnt &&
    mount "$dev" $w/mnt && diff -r src/main $w/mnt/main && umount $w/mnt && e2fsck -fn "$dev" >$w/fsck.out 2>&1
}

# ---- iSCSI: tgtd, LUN 1 (tgt keeps LUN 0 for its controller) ----------------------------------------------------
iscsi() {
truncate -s 256M $SCRATCH/lun.img
tgtd --iscsi portal=127.0.0.1:3260 >$w/tgtd.log 2>&1
for _ in $(seq 300); do tgtadm --op show --mode target >/dev/null 2>&1 && break; sleep 0.1; done
iqn=iqn.2003-01.org.example.storage:disk1
check "tgtd: target, LUN 1 on a file, open to all" bash -c "
  tgtadm --lld iscsi --mode target --op new --tid 1 -T $iqn &&
  tgtadm --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 -b $SCRATCH/lun.img &&
  tgtadm --lld iscsi --mode target --op bind --tid 1 -I ALL"
check "qemu-nbd serves the LUN (the README's command)" qemu-nbd --fork --persistent -k /run/lun1.sock -f raw \
  --cache=none "iscsi://127.0.0.1:3260/$iqn/1"
if dev=$(add_device nbd --socket /run/lun1.sock); then
  expect_eq "the device is the LUN's size" $((256 << 20)) "$(blockdev --getsize64 "$dev")"
  check "iSCSI: fio --verify=crc32c at 64k" fio_verify "$dev" iscsi
  check "iSCSI: mkfs.ext4, a tree copied in and compared after a remount, e2fsck -fn clean" ext4_tree "$dev"
  check "iSCSI: ublk del" ublk del -n "$(dev_id "$dev")"
  check "iSCSI: the LUN's file holds the file system, e2fsck -fn clean" e2fsck -fn $SCRATCH/lun.img
fi
}

# ---- NFS: rpcbind + NFS-Ganesha exporting /export ---------------------------------------------------------------
nfs() {
# FSAL VFS needs file handles, which the guest's overlay root has not: /export is the scratch disk's ext4.
mkdir -p $SCRATCH/export/images /export && mount --bind $SCRATCH/export /export
truncate -s 256M /export/images/disk.img
# No Bind_Addr: in the guest (no network but lo) Ganesha 4.3 fails on 'Bind_Addr = 127.0.0.1' with "No IP
# address found for 127.0.0.1 because:Name or service not known"; lo is all there is to listen on anyway.
cat >$w/ganesha.conf <<'EOF'
NFS_CORE_PARAM { Protocols = 3; Enable_NLM = false; Enable_RQUOTA = false; }
NFSV4 { Graceless = true; }
EXPORT {
  Export_Id = 1; Path = /export; Pseudo = /export; Access_Type = RW; Squash = No_Root_Squash;
  Protocols = 3; Transports = TCP; SecType = sys;
  FSAL { Name = VFS; }
}
EOF
rpcbind
ganesha.nfsd -L $w/ganesha.log -f $w/ganesha.conf -p $w/ganesha.pid -N NIV_EVENT
for _ in $(seq 600); do grep -q 'NFS SERVER INITIALIZED' $w/ganesha.log 2>/dev/null && break; sleep 0.1; done
if grep -q 'NFS SERVER INITIALIZED' $w/ganesha.log 2>/dev/null; then
  ok "ganesha.nfsd is up"
else
  fail "ganesha.nfsd is up"
  { pgrep -a 'rpcbind|ganesha'; rpcinfo -p 127.0.0.1; tail -n 30 $w/ganesha.log; } 2>&1 | sed 's/^/     | /'
fi
check "qemu-nbd serves the file on NFS (the README's command)" qemu-nbd --fork --persistent -k /run/nfs-disk.sock \
  -f raw 'nfs://127.0.0.1/export/images/disk.img'
if dev=$(add_device nbd --socket /run/nfs-disk.sock); then
  expect_eq "the device is the file's size" $((256 << 20)) "$(blockdev --getsize64 "$dev")"
  check "NFS: fio --verify=crc32c at 64k" fio_verify "$dev" nfs
  check "NFS: mkfs.ext4, a tree copied in and compared after a remount, e2fsck -fn clean" ext4_tree "$dev"
  check "NFS: ublk del" ublk del -n "$(dev_id "$dev")"
  check "NFS: the exported file holds the file system, e2fsck -fn clean" e2fsck -fn /export/images/disk.img
fi
}

for part in ${1:-iscsi nfs}; do $part; done # a by-hand run may ask for one: remote-storage.sh nfs
finish
