#!/bin/bash
# Hostile input and the daemon's hardening: what loop-bad-input.sh and ublk-bad-input.sh do not cover.
# `recover` of a device that does not exist or is live, a user who is not root, paths that cannot be
# opened, /dev/ublk-control missing (ublk_drv unloaded) — each one clear line, non-zero exit, nothing left
# behind. And the daemon itself: its own mount namespace, PR_SET_IO_FLUSHER on its queue threads, metrics
# on 127.0.0.1 unless told otherwise, state files and run directory not world-writable.
# vm-test: --disk 1G
# vm-test-seconds: 190
. "$(dirname "$0")/lib/scenario.sh"
scratch_fs

run_dir=${JUBLK_RUN_DIR:-/run/jublk}
before=$(ublk_ids | wc -l)

# --- recover -------------------------------------------------------------------------------------------------
expect_fail "recover of a device that does not exist" ublk recover -n 999
dev=$(add_device null --size 64M -q 2 --metrics-port 9464) || finish
id=$(dev_id "$dev")
pid=$(daemon_pid "$id")
expect_fail "recover of a live device (without --recovery)" ublk recover -n "$id"
check "... and the device still serves I/O" dd if="$dev" of=/dev/null bs=64k count=16 iflag=direct status=none
expect_eq "... by the same server" "$pid" "$(daemon_pid "$id")"

# --- not root ------------------------------------------------------------------------------------------------
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp "$@"; }
expect_fail "add as a user who is not root" nobody "$(command -v ublk)" add null --size 64M
expect_fail "del as a user who is not root" nobody "$(command -v ublk)" del -n "$id"
expect_fail "recover as a user who is not root" nobody "$(command -v ublk)" recover -n "$id"
err=$(nobody "$(command -v ublk)" add null --size 64M 2>&1 >/dev/null)
check "... and it says root is needed" grep -qi "root" <<<"$err"
expect_eq "... and the device is still served by the same daemon" "$pid" "$(daemon_pid "$id")"

# --- paths that cannot be used -------------------------------------------------------------------------------
ln -s "$SCRATCH/nowhere/none.img" "$SCRATCH/dangling"
expect_fail "a dangling symlink without --size" ublk add loop --file "$SCRATCH/dangling"
expect_fail "a dangling symlink with --size" ublk add loop --file "$SCRATCH/dangling" --size 64M
check "... and nothing was created through it" test ! -e "$SCRATCH/nowhere"
expect_fail "a path through a regular file" ublk add loop --file /etc/passwd/x.img --size 64M
expect_fail "a file in a directory that does not exist" ublk add loop --file "$SCRATCH/nowhere/x.img" --size 64M
check "... and no directory was created" test ! -e "$SCRATCH/nowhere"
expect_fail "another jublk device's char device" ublk add loop --file "/dev/ublkc$id"

# --- the daemon's hardening ----------------------------------------------------------------------------------
check "daemon runs in its own mount namespace" \
  test "$(readlink /proc/"$pid"/ns/mnt)" != "$(readlink /proc/self/ns/mnt)"
# PR_SET_IO_FLUSHER sets PF_MEMALLOC_NOIO (0x00080000) and PF_LOCAL_THROTTLE (0x00100000) on the thread;
# flags are the 9th field of /proc/PID/task/TID/stat.
flushers=0 queue_threads=0
for t in /proc/"$pid"/task/*; do
  comm=$(cat "$t/comm" 2>/dev/null) || continue
  [[ $comm == "ublk$id-q"* ]] || continue
  queue_threads=$((queue_threads + 1))
  flags=$(sed 's/.*) //' "$t/stat" | cut -d' ' -f7)
  if (( (flags & 0x00080000) && (flags & 0x00100000) )); then flushers=$((flushers + 1)); fi
  info "$comm: flags $(printf '0x%08x' "$flags")"
done
expect_eq "queue threads" 2 "$queue_threads"
expect_eq "queue threads marked PR_SET_IO_FLUSHER (PF_MEMALLOC_NOIO|PF_LOCAL_THROTTLE)" 2 "$flushers"
listen=$(ss -Hltn "sport = :9464" | awk '{print $4}')
info "metrics listen on: $listen"
check "metrics listen on the loopback address only" grep -Eq '^(\[::ffff:)?127\.0\.0\.1\]?:9464$' <<<"$listen"
check "run directory is not world-writable" test -z "$(find "$run_dir" -maxdepth 0 -perm -o+w)"
check "record is not world-writable" test -z "$(find "$run_dir/ublk$id.json" -perm -o+w)"
check "daemon log is not world-writable" test -z "$(find "$run_dir/ublk$id.log" -perm -o+w)"
check "ublk del -n $id" ublk del -n "$id"

# --- no ublk in the kernel -----------------------------------------------------------------------------------
expect_eq "no device left behind" "$before" "$(ublk_ids | wc -l)"
if rmmod ublk_drv 2>/dev/null; then
  ok "rmmod ublk_drv"
  expect_fail "add when ublk_drv is not loaded" ublk add null --size 64M
  err=$(ublk add null --size 64M 2>&1 >/dev/null)
  check "... and it says to load ublk_drv" grep -q "modprobe ublk_drv" <<<"$err"
  expect_fail "features when ublk_drv is not loaded" ublk features
  expect_fail "recover when ublk_drv is not loaded" ublk recover -n 0
  modprobe ublk_drv 2>/dev/null || info "ublk_drv not reloaded (modprobe failed); the scenario ends here"
else
  fail "rmmod ublk_drv (still in use?)"
fi

check "no ublk process left" test -z "$(ublk_procs)"
check "no state file left" sh -c "! ls $run_dir/ublk*.json 2>/dev/null"
finish
