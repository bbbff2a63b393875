#!/bin/bash
# Smoke test of the VM itself (not of jublk): the kernel, the modules, the
# JDK, fio, ext4 on a loop device, and the scratch disks asked for with --disk.
#
#   vm-tests/run smoke.sh
#   vm-tests/run --disk 1G smoke.sh
#
# Runs every check, prints one 'ok'/'FAIL' line each, and exits 1 if any failed.
set -u

passed=0 failed=0
ok() { echo "ok   - $*"; passed=$((passed + 1)); }
fail() { echo "FAIL - $*"; failed=$((failed + 1)); }
check() { # check DESCRIPTION COMMAND...: ok if the command succeeds
  local what="$1"; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

work="$(mktemp -d /tmp/smoke.XXXXXX)" # tmpfs: the guest's writes go to RAM

# --- kernel and modules ---------------------------------------------------------
kver="$(uname -r)"
is_73() { [[ "$kver" == 7.3.* ]]; }
check "kernel is 7.3.x ($kver)" is_73
check "/dev/ublk-control is a character device" test -c /dev/ublk-control
for m in ublk_drv loop ext4; do
  check "module $m loaded" test -d "/sys/module/$m"
done
check "modprobe null_blk works (and rmmod)" \
  sh -c 'modprobe null_blk nr_devices=1 && test -b /dev/nullb0 && rmmod null_blk'

# --- JDK -------------------------------------------------------------------------
if [[ -x "${JAVA_HOME:-}/bin/java" ]]; then
  t0=$(date +%s%N)
  if out="$("$JAVA_HOME/bin/java" -version 2>&1)"; then
    ok "java -version in $(ms_since "$t0") ms: $(head -n1 <<<"$out")"
  else
    fail "java -version: $out"
  fi
else
  fail "JAVA_HOME (${JAVA_HOME:-unset}) has no bin/java"
fi

# --- fio on a tmpfs file ---------------------------------------------------------
for engine in psync io_uring; do
  t0=$(date +%s%N)
  if out="$(fio --name=smoke --filename="$work/fio.dat" --size=8M --bs=4k --rw=randrw \
    --ioengine=$engine --io_size=8M --verify=crc32c --output-format=terse 2>&1)"; then
    ok "fio ($engine, 8 MiB randrw + verify on tmpfs) in $(ms_since "$t0") ms"
  else
    fail "fio ($engine): $out"
  fi
done

# --- ext4 on a loop device backed by a tmpfs file -------------------------------------
loop_test() {
  local img="$work/loop.img" dev mnt="$work/mnt" rc=1
  truncate -s 64M "$img"
  dev="$(losetup -f --show "$img")" || return 1
  echo "     loop device $dev"
  mkdir -p "$mnt"
  if mkfs.ext4 -q -F "$dev" &&
    mount "$dev" "$mnt" &&
    dd if=/dev/urandom of="$mnt/data" bs=1M count=4 status=none &&
    sha="$(sha256sum <"$mnt/data")" &&
    umount "$mnt" &&
    e2fsck -fn "$dev" >/dev/null 2>&1 &&
    mount -o ro "$dev" "$mnt" &&
    [[ "$(sha256sum <"$mnt/data")" == "$sha" ]]; then
    rc=0
  fi
  umount "$mnt" 2>/dev/null
  losetup -d "$dev"
  return $rc
}
check "mkfs.ext4 + mount + write + e2fsck + re-read on a loop device" loop_test

# --- scratch disks (vm-tests/run --disk) ---------------------------------------------
ndisks="${JUBLK_VM_DISKS:-0}"
if ((ndisks > 0)); then
  letters=abcdefghijklmnopqrstuvwxyz
  for ((i = 0; i < ndisks; i++)); do
    d="vd${letters:i:1}"
    check "/dev/$d exists ($(cat "/sys/block/$d/size" 2>/dev/null || echo 0) sectors)" test -b "/dev/$d"
  done
else
  echo "     (no --disk given: scratch disk check skipped)"
fi

# --- network (vm-tests/run --hostfwd) ---------------------------------------------
if [[ -n "${JUBLK_VM_HOSTFWD:-}" ]]; then
  check "eth0 has 10.0.2.15 (forwarded: $JUBLK_VM_HOSTFWD)" sh -c 'ip -4 addr show dev eth0 | grep -q "inet 10.0.2.15/24"'
fi

rm -rf "$work"
echo "$passed passed, $failed failed"
((failed == 0))
