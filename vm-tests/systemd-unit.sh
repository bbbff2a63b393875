#!/bin/bash
# systemd and udev (issue 14): jublk@.service as bin/install-system installs it. The guest has no systemd, so its
# commands run here by hand with a stand-in for systemd's notify socket (lib/notify-listen): READY=1 comes only
# once the device serves; after a SIGKILL of the server the next start (Restart=on-failure) takes the device over
# under a mounted ext4; SIGTERM (the unit's stop) stops and deletes it cleanly. systemd-udevd runs with the
# shipped rule: the device is /dev/disk/by-id/ublk-SERIAL, the serial its record keeps. The installed unit, its
# enablement (systemctl --root) and the declaration live on the scratch disk: in the second boot the enabled
# instance serves the same device again, with the same serial and the same data. A device declared without
# recovery is deleted and added again, with its declared serial, by the start after a crash.
# vm-test: --boots 2 --disk 512M
# vm-test-seconds: 300
# (measured: 331 s of VM wall time for both boots, the scenario 166 s + 112 s of it, under a load of 18 with other
# VMs on the two host cores; seven `ublk up` JVMs, five of them starting a device)
. "$(dirname "$0")/lib/scenario.sh"
boot=${JUBLK_VM_BOOT:-1} boots=${JUBLK_VM_BOOTS:-1}
((boots == 2)) || { fail "needs two boots: vm-tests/run --boots 2"; finish; }
export JUBLK_DAEMON_JAVA_OPTS="${JUBLK_DAEMON_JAVA_OPTS:-} -XX:TieredStopAtLevel=1"
run_dir=${JUBLK_RUN_DIR:-/run/jublk}
listen=$(dirname "$0")/lib/notify-listen
SCRATCH=/mnt/scratch
root=$SCRATCH/root # the installed system: on the scratch disk, so it survives the reboot
units=$root/etc/systemd/system
export JUBLK_CONFIG_DIR=$root/etc/jublk

if ((boot == 1)); then
  scratch_fs
  check "bin/install-system (DESTDIR on the scratch disk)" env DESTDIR="$root" bin/install-system
  check "systemctl --root enables jublk@db.service and jublk@nr.service" \
    systemctl --root="$root" enable jublk@db.service jublk@nr.service
  printf '{"spec": {"target": {"type": "loop", "file": "%s", "size": 67108864}, "recovery": "reissue"}}\n' \
    "$SCRATCH/db.img" >"$JUBLK_CONFIG_DIR/db.json"
  # Declared without recovery, with a serial of its own.
  printf '{"serial": "5E1C0A34-6D1A-4C3B-9A8E-2F7D0B9C4F2E", "spec": {"target": {"type": "null", "size": 67108864}}}\n' \
    >"$JUBLK_CONFIG_DIR/nr.json"
  chmod 0644 "$JUBLK_CONFIG_DIR"/*.json
else
  mkdir -p "$SCRATCH"
  mount /dev/vda "$SCRATCH" || { fail "the scratch disk mounts in the second boot"; finish; }
fi

# systemd-udevd with the installed rule (the overlay's /etc is writable; it is fresh at every boot).
cp "$root/etc/udev/rules.d/60-jublk-by-id.rules" /etc/udev/rules.d/
/lib/systemd/systemd-udevd --daemon 2>/tmp/udevd.err || { fail "systemd-udevd starts: $(cat /tmp/udevd.err)"; finish; }
udevd_exit() { udevadm control --exit >/dev/null 2>&1 || true; }
trap 'udevd_exit; cleanup_devices' EXIT

# start NAME: what systemd does for the enabled jublk@NAME.service: its ExecStart (%i = NAME), in a mount namespace
# of its own (PrivateMounts=yes), with $NOTIFY_SOCKET on a listener; waits for READY=1. Sets pid, dev, log.
starts=0
start() {
  local name=$1 link unit cmd sock
  starts=$((starts + 1))
  link=$units/multi-user.target.wants/jublk@$name.service
  unit=$root$(readlink "$link") || { fail "jublk@$name.service is enabled"; finish; }
  grep -qx 'PrivateMounts=yes' "$unit" || { fail "$unit has PrivateMounts=yes"; finish; }
  cmd=$(sed -n 's/^ExecStart=//p' "$unit")
  cmd=${cmd//%i/$name}
  log=/tmp/up.$starts
  sock=/run/notify.$starts
  "$listen" "$sock" "$run_dir" >"$log.notify" &
  for ((t = 0; t < 100; t++)); do [[ -S $sock ]] && break; sleep 0.1; done
  # shellcheck disable=SC2086 # ExecStart is a command line
  NOTIFY_SOCKET=$sock unshare --mount --propagation slave -- $cmd >"$log.out" 2>"$log.err" &
  pid=$!
  for ((t = 0; t < 600; t++)); do
    grep -q '^DATAGRAM .*READY=1' "$log.notify" && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.25
  done
  sleep 0.5 # the listener's look at the device
  if grep -qx "SERVES /dev/ublkb[0-9]*" "$log.notify"; then
    ok "start $starts: READY=1 came once the device served: $(grep -x 'SERVES .*' "$log.notify") ($(grep -m1 ^DATAGRAM "$log.notify"))"
  else
    fail "start $starts: no READY=1 from a serving device: $(cat "$log.notify")"
    sed 's/^/     | /' "$log.err" | tail -n 30
    finish
  fi
  expect_eq "start $starts: one datagram, READY=1 in it" 1 "$(grep -c '^DATAGRAM' "$log.notify")"
  dev=$(head -n1 "$log.out")
  expect_eq "start $starts: MAINPID is the server's pid (bin/ublk execs the JVM)" "MAINPID=$pid" \
    "$(grep -o 'MAINPID=[0-9]*' "$log.notify")"
}

# by_id DEV SERIAL: the rule's link and udev's ID_SERIAL for DEV.
by_id() {
  udevadm settle --timeout=30
  expect_eq "udev: /dev/disk/by-id/ublk-$2 is $1" "$1" "$(readlink -f "/dev/disk/by-id/ublk-$2")"
  expect_eq "udev: ID_SERIAL of $1" "ID_SERIAL=$2" "$(udevadm info -q property "$1" | grep '^ID_SERIAL=')"
}

# stop: what `systemctl stop` does (KillMode=mixed: SIGTERM to the main process), then the device is gone.
stop() {
  local id=${dev#/dev/ublkb} rc=0
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  expect_eq "SIGTERM: ublk up exits 0 (a clean stop, the backing file flushed)" 0 "$rc"
  check "the device is deleted" test ! -e "/sys/block/ublkb$id"
  check "its record and udev properties are removed" test ! -e "$run_dir/ublk$id.json" -a ! -e "$run_dir/ublk$id.udev"
  udevadm settle --timeout=30
  check "its by-id link is gone" test ! -e "/dev/disk/by-id/ublk-$serial"
}

start db
id=${dev#/dev/ublkb}
serial=$(sed -n 's/^ *"serial" *: *"\(.*\)".*/\1/p' "$run_dir/ublk$id.json")
check "the record keeps the name and a serial" grep -q '"name" : "db"' "$run_dir/ublk$id.json"
by_id "$dev" "$serial"
mkdir -p /mnt/db
if ((boot == 1)); then
  echo "$serial" >"$SCRATCH/serial"
  mkfs.ext4 -q "/dev/disk/by-id/ublk-$serial" && mount "/dev/disk/by-id/ublk-$serial" /mnt/db ||
    { fail "mkfs.ext4 and mount by id"; finish; }
  head -c 16M /dev/urandom >/mnt/db/data && sync
  sha /mnt/db/data >"$SCRATCH/sha"

  # A crash: SIGKILL. The device waits (recovery "reissue") with its file system mounted; the restart takes it over.
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null
  check "after the crash the device is still there" test -e "/sys/block/ublkb$id"
  start db
  expect_eq "the restart takes over the same device" "/dev/ublkb$id" "$dev"
  check "the restart said it takes the device over" grep -q 'lost its server: taking it over' "$log.err"
  expect_eq "the serial stays" "$serial" "$(sed -n 's/^ *"serial" *: *"\(.*\)".*/\1/p' "$run_dir/ublk$id.json")"
  by_id "$dev" "$serial"
  drop_caches
  expect_eq "the data written before the crash reads back through the mounted ext4" "$(cat "$SCRATCH/sha")" \
    "$(sha /mnt/db/data)"
  check "umount" umount /mnt/db
  check "e2fsck -fn is clean after the takeover" e2fsck -fn "$dev"
  expect_fail "a second ublk up db while the first serves" ublk up db
  stop
  expect_fail "ublk up of a name nothing declares" ublk up nosuch
  udevd_exit
  umount "$SCRATCH" || fail "umount the scratch disk before the reboot"
  finish
fi

# The second boot: the enabled instance serves the declared device again.
expect_eq "after the reboot: the same serial" "$(cat "$SCRATCH/serial")" "$serial"
check "mount by id" mount "/dev/disk/by-id/ublk-$serial" /mnt/db
expect_eq "after the reboot: the data" "$(cat "$SCRATCH/sha")" "$(sha /mnt/db/data)"
check "umount" umount /mnt/db
check "e2fsck -fn is clean" e2fsck -fn "$dev"
stop

# A device declared without recovery: after a crash the restart deletes what is left and adds it again, same serial.
start nr
serial=5e1c0a34-6d1a-4c3b-9a8e-2f7d0b9c4f2e
by_id "$dev" "$serial"
kill -KILL "$pid"
wait "$pid" 2>/dev/null
start nr
check "the restart said it deletes the device and adds it again" grep -q 'cannot be taken over: deleting it and adding it again' "$log.err"
by_id "$dev" "$serial"
stop
udevd_exit
finish
