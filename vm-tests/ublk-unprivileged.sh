#!/bin/bash
# Unprivileged devices (UBLK_F_UNPRIVILEGED_DEV) with systemd-udevd running and jublk's udev rules installed
# (bin/install-unprivileged): a user in the rules' group adds a loop device on a file of its own, its nodes are handed to it, and
# it does I/O through /dev/ublkbN; another user of the group can neither delete, open nor list it (and its
# `del --all` leaves it); root's `del --all` leaves it and root's `del -n` refuses it while its server runs; its owner
# deletes it and nothing is left; a user outside the group is refused with one line.
# vm-test:
# vm-test-seconds: 160
. "$(dirname "$0")/lib/scenario.sh"

udevd=/lib/systemd/systemd-udevd
[[ -x $udevd ]] || { fail "no $udevd (Debian's udev package)"; finish; }
"$udevd" --daemon || { fail "systemd-udevd did not start"; finish; }
udevd_pid=$(pgrep -o -x systemd-udevd)
stop_udevd() { [[ -n ${udevd_pid-} ]] && kill "$udevd_pid" 2>/dev/null; }
trap 'id -u ua >/dev/null 2>&1 && as ua ublk del --all >/dev/null 2>&1; cleanup_devices; stop_udevd' EXIT
check "bin/install-unprivileged ublk (rules, helper, group)" install-unprivileged ublk
udevadm settle
expect_eq "/dev/ublk-control is the group's" "root:ublk 660" "$(stat -c '%U:%G %a' /dev/ublk-control)"

# Three users: two in the group, one not; each with a private runtime directory, as a login session makes it.
for u in ua ub uc; do
  useradd -M -U "$u" || { fail "useradd $u"; finish; }
  mkdir -p "/run/user/$(id -u "$u")" "/srv/$u" && chown "$u:$u" "/run/user/$(id -u "$u")" "/srv/$u" \
    && chmod 700 "/run/user/$(id -u "$u")" "/srv/$u"
done
usermod -aG ublk ua && usermod -aG ublk ub
as() { local u=$1; shift; runuser -u "$u" -- env XDG_RUNTIME_DIR="/run/user/$(id -u "$u")" "$@"; }

expect_fail "a user outside the group cannot add a device" as uc ublk add null --size 16M

# --- user A adds and serves a device ----------------------------------------------------------------------------------
head -c 8M /dev/urandom >/srv/ua/data && chown ua:ua /srv/ua/data
want=$(sha /srv/ua/data)
if ! out=$(as ua ublk add loop --file /srv/ua/disk.img --size 16M 2>&1); then
  fail "user ua: ublk add loop: $out"
  sed 's/^/     | /' /run/user/"$(id -u ua)"/jublk/*.log 2>/dev/null | tail -n 30
  finish
fi
dev=$(head -n1 <<<"$out")
id=$(dev_id "$dev")
ok "user ua added $dev"
expect_eq "its block device is ua's alone" "ua:ua 600" "$(stat -c '%U:%G %a' "$dev")"
expect_eq "its char device is ua's alone" "ua:ua 600" "$(stat -c '%U:%G %a' "/dev/ublkc$id")"
check "ua writes 8 MiB through $dev (O_DIRECT)" as ua dd if=/srv/ua/data of="$dev" bs=1M oflag=direct conv=fsync status=none
expect_eq "ua reads them back" "$want" "$(as ua dd if="$dev" bs=1M count=8 iflag=direct status=none | sha256sum | cut -d' ' -f1)"

# --- others -----------------------------------------------------------------------------------------------------------
expect_fail "user ub cannot delete ua's device" as ub ublk del -n "$id"
if as ub dd if="$dev" of=/dev/null bs=4k count=1 status=none 2>/dev/null; then fail "ub could read $dev"; else ok "ub cannot open $dev"; fi
if as ub dd if="/dev/ublkc$id" of=/dev/null bs=1 count=1 status=none 2>/dev/null; then fail "ub could open /dev/ublkc$id"; else ok "ub cannot open /dev/ublkc$id"; fi
listing=$(as ub ublk list 2>&1)
if grep -q "ublkb$id\b" <<<"$listing"; then fail "ub's ublk list shows ua's device: $listing"; else ok "ub's ublk list does not show it"; fi
check "ub's ublk del --all succeeds" as ub ublk del --all
check "ublk del --all as root" ublk del --all
if [[ -b $dev ]]; then ok "ub's and root's del --all left ua's device"; else fail "ua's device is gone after others' del --all"; fi
expect_fail "root's del -n refuses ua's device while its server runs" ublk del -n "$id"

# --- user A deletes it ------------------------------------------------------------------------------------------------
check "ua deletes its device" as ua ublk del -n "$id"
expect_eq "no node left" "" "$(ls /dev/ublkb"$id" /dev/ublkc"$id" 2>/dev/null)"
expect_eq "no record left" "" "$(ls /run/user/"$(id -u ua)"/jublk/ublk"$id".json 2>/dev/null)"
udevadm settle
expect_eq "no ublk process left" "" "$(ublk_procs)"
expect_eq "the data is in ua's file" "$want" "$(sha /srv/ua/disk.img 8388608)"
finish
