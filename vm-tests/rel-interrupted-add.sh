#!/bin/bash
# No orphans, whatever moment an add is interrupted at. ROUNDS rounds (default 20) of `ublk add loop` that
# creates its backing file, each cut short in another way: a test fault in the daemon (killed or failing right
# after it claimed the id, opened the file, ADD_DEV, START_DEV), SIGTERM or SIGKILL to `ublk add`, to its
# daemon, or to both, at a random moment. After each round, whatever the interruption left is either a working
# device or nothing; `ublk del --all` then leaves no /dev/ublkcN, no record, no daemon, and no backing file that
# a failed add created. Then CYCLES (default 5) clean add/use/del cycles: the id comes back every time and each
# daemon holds the same number of descriptors.
# vm-test: --disk 1G --timeout 2400
# vm-test-seconds: 600
. "$(dirname "$0")/lib/scenario.sh"
scratch_fs

rounds=${1:-20}
cycles=${2:-5}
run_dir=${JUBLK_RUN_DIR:-/run/jublk}
# The life cycle, not speed: the daemons skip C2, whose start-up compiling costs each add seconds under emulation.
export JUBLK_DAEMON_JAVA_OPTS="${JUBLK_DAEMON_JAVA_OPTS:-} -XX:TieredStopAtLevel=1"
kinds=(fault:claimed:kill fault:opened:kill fault:added:fail fault:added:kill fault:started:fail fault:started:kill
  term:add kill:add term:daemon kill:daemon kill:both)
RANDOM=$$

daemons() { pgrep -f '/jublk\.jar __serve' || true; }
records() { ls "$run_dir"/ublk*.json 2>/dev/null || true; }
# Every daemon still running serves a live device (none is in the middle of starting or undoing a start).
settled() {
  local p recs
  for p in $(daemons); do
    # A daemon with no record yet is still starting (it has not claimed an id): not settled.
    recs=$(grep -l "\"pid\" : $p,\?\$" "$run_dir"/ublk*.json 2>/dev/null) || return 1
    grep -q '"state" : "live"' $recs || return 1
  done
}

for i in $(seq 1 "$rounds"); do
  kind=${kinds[$(((i - 1) % ${#kinds[@]}))]}
  f=$SCRATCH/r$i.img
  delay=$((1 + RANDOM % 12))
  out=/tmp/add$i.out
  case $kind in
    fault:*)
      JUBLK_TEST_FAULT=${kind#fault:} ublk add loop --file "$f" --size 64M >"$out" 2>&1
      rc=$?
      what="fault ${kind#fault:}"
      ;;
    *)
      ublk add loop --file "$f" --size 64M >"$out" 2>&1 &
      add=$!
      sleep "$delay"
      daemon=$(daemons | tail -n1)
      case $kind in
        term:add) kill -TERM "$add" 2>/dev/null ;;
        kill:add) kill -KILL "$add" 2>/dev/null ;;
        term:daemon) [[ -n $daemon ]] && kill -TERM "$daemon" ;;
        kill:daemon) [[ -n $daemon ]] && kill -KILL "$daemon" ;;
        kill:both) kill -KILL "$add" 2>/dev/null; [[ -n $daemon ]] && kill -KILL "$daemon" ;;
      esac
      wait "$add"
      rc=$?
      what="$kind after ${delay} s"
      ;;
  esac
  # An add cut short with SIGKILL leaves its daemon to finish starting on its own: wait for it to settle.
  for _ in $(seq 120); do settled && break; sleep 1; done
  devs=$(ublk_ids | tr '\n' ' ')
  info "round $i ($what): add exit $rc, devices [${devs}], records [$(records | xargs -r -n1 basename | tr '\n' ' ')]"
  if ((rc != 0)) && [[ $kind == fault:* || $kind == *:daemon ]]; then
    check "round $i ($what): the failed add said why in one line" test "$(wc -l <"$out")" -eq 1
  fi
  if ((rc == 0)); then
    check "round $i ($what): the add that finished gave a live device" test -b "$(head -n1 "$out")"
  fi
  ublk del --all >/tmp/del$i.out 2>&1 || { fail "round $i: ublk del --all failed"; sed 's/^/     | /' /tmp/del$i.out; }
  check "round $i ($what): no device left" test -z "$(ublk_ids)"
  check "round $i ($what): no record left" test -z "$(records)"
  check "round $i ($what): no daemon left" test -z "$(daemons)"
  if ((rc != 0)) && [[ $kind != kill:add && $kind != kill:both ]] && ! grep -q '^/dev/ublkb' "$out"; then
    # The add failed before it told the device's path: the file it created is gone. (A SIGKILLed `ublk add` says
    # nothing, and its daemon may finish the add regardless: that device and its file stay, like any other.)
    check "round $i ($what): the file the failed add created is gone" test ! -e "$f"
  fi
  rm -f "$f"
done

# --- clean cycles ------------------------------------------------------------------------------------------------
first_id="" fds_seen=""
for i in $(seq 1 "$cycles"); do
  dev=$(add_device null --size 64M) || finish
  id=$(dev_id "$dev")
  [[ -z "$first_id" ]] && first_id=$id
  pid=$(state_pid "$id")
  [[ -n $pid && -d /proc/$pid ]] || fail "cycle $i: no live daemon pid in the record ('$pid')"
  dd if=/dev/zero of="$dev" bs=1M count=4 oflag=direct status=none || fail "cycle $i: write"
  fds=$(ls /proc/"$pid"/fd | wc -l)
  fds_seen="$fds_seen $fds"
  ublk del -n "$id" || fail "cycle $i: del"
  [[ "$id" == "$first_id" ]] || fail "cycle $i: id $id, not $first_id again"
  [[ -z "$(ublk_ids)" ]] || fail "cycle $i: devices left: $(ublk_ids | tr '\n' ' ')"
done
ok "$cycles add/del cycles, id $first_id every time"
expect_eq "daemon descriptors the same every cycle" 1 "$(tr ' ' '\n' <<<"$fds_seen" | grep -v '^$' | sort -u | wc -l)"
info "descriptors per daemon:$fds_seen"
check "no ublk process left" test -z "$(ublk_procs)"
check "no record left" test -z "$(records)"
finish
