# Helpers for guest scenarios (sourced, bash). A scenario prints one line per check and exits non-zero if
# any failed; `finish` at the end does that. Devices a scenario adds are deleted on exit whatever happens.
set -u

SCENARIO_PASSED=0
SCENARIO_FAILED=0
# Failures are also recorded in a file: a check that fails inside a command substitution (e.g.
# dev=$(add_device ...) || finish) runs in a subshell, whose counter and stdout the scenario never sees.
SCENARIO_FAILURES=$(mktemp /tmp/scenario-failures.XXXXXX)
SCENARIO_PID=$BASHPID

ok() { echo "ok   - $*"; SCENARIO_PASSED=$((SCENARIO_PASSED + 1)); }
fail() {
  if [[ $BASHPID != "$SCENARIO_PID" ]]; then
    echo "FAIL - $*" >&2 # stdout may be captured by the caller
    echo "$*" >>"$SCENARIO_FAILURES"
  else
    echo "FAIL - $*"
    SCENARIO_FAILED=$((SCENARIO_FAILED + 1))
  fi
}
info() { echo "     # $*"; }

# check DESCRIPTION COMMAND...: ok if the command succeeds (its output is shown on failure).
check() {
  local what="$1" out
  shift
  if out=$("$@" 2>&1); then ok "$what"; else fail "$what"; sed 's/^/     | /' <<<"$out" | tail -n 20; fi
}

# expect_eq DESCRIPTION EXPECTED ACTUAL
expect_eq() {
  if [[ "$2" == "$3" ]]; then ok "$1 ($3)"; else fail "$1: expected '$2', got '$3'"; fi
}

# The device ids the kernel has right now, one per line (its class of char devices is `ublk-char`).
ublk_ids() { ls /sys/class/ublk-char 2>/dev/null | sed -n 's/^ublkc//p' | sort -n; }

# ublk processes (daemons and commands) still running.
ublk_procs() { pgrep -f 'io\.jublk\.cli\.Main|/jublk\.jar' || true; }

# add_device ARGS...: `ublk add ARGS`, prints the block device path; fails the scenario if it does not work.
add_device() {
  local out
  if ! out=$(ublk add "$@" 2>&1); then
    fail "ublk add $*: $out"
    local log
    log=$(grep -o '/run/jublk[^ ]*\.log' <<<"$out" | head -n1)
    [[ -n $log && -f $log ]] && sed 's/^/     | /' "$log" | tail -n 30 >&2
    return 1
  fi
  local dev
  dev=$(head -n1 <<<"$out")
  if [[ ! -b "$dev" ]]; then
    fail "ublk add $*: first line '$dev' is not a block device"
    return 1
  fi
  echo "$dev"
}

# The id N of /dev/ublkbN.
dev_id() { echo "${1#/dev/ublkb}"; }

# The pid the daemon of device id N wrote into its state file (no JVM start, unlike daemon_pid).
state_pid() { sed -n 's/^ *"pid" *: *\([0-9]*\).*/\1/p' "${JUBLK_RUN_DIR:-/run/jublk}/ublk$1.json" 2>/dev/null | head -n1; }

# The pid of the daemon serving device id N (from the kernel's view via `ublk list --json`).
daemon_pid() { ublk list -n "$1" --json | grep -o '"pid":[0-9]*' | cut -d: -f2; }

# expect_fail DESCRIPTION COMMAND...: the command must fail with exactly one line on stderr and nothing on
# stdout.
expect_fail() {
  local what="$1" out err rc
  shift
  out=$(mktemp) err=$(mktemp)
  "$@" >"$out" 2>"$err"
  rc=$?
  if ((rc == 0)); then
    fail "$what: exited 0"
  elif [[ -s "$out" ]]; then
    fail "$what: wrote to stdout: $(head -c 200 "$out")"
  elif (($(wc -l <"$err") != 1)); then
    fail "$what: expected one line on stderr, got $(wc -l <"$err"):"
    sed 's/^/     | /' "$err" | head -n 10
  else
    ok "$what -> exit $rc: $(cat "$err")"
  fi
  rm -f "$out" "$err"
}

cleanup_devices() {
  if [[ -n "$(ublk_ids)" ]]; then
    ublk del --all >/dev/null 2>&1 || true
    for id in $(ublk_ids); do ublk del -n "$id" >/dev/null 2>&1 || true; done
  fi
}
trap cleanup_devices EXIT

# finish: print the tally and exit with the scenario's status.
finish() {
  SCENARIO_FAILED=$((SCENARIO_FAILED + $(wc -l <"$SCENARIO_FAILURES")))
  rm -f "$SCENARIO_FAILURES"
  echo "# $SCENARIO_PASSED passed, $SCENARIO_FAILED failed"
  ((SCENARIO_FAILED == 0))
  exit $?
}

# scratch_fs [DEV]: a fresh ext4 on the scratch disk (vm-test option --disk), mounted at /mnt/scratch.
scratch_fs() {
  local disk=${1:-/dev/vda}
  [[ -b $disk ]] || { fail "no scratch disk $disk (give the scenario --disk)"; finish; }
  mkfs.ext4 -q -F "$disk" && mkdir -p /mnt/scratch && mount "$disk" /mnt/scratch || { fail "mkfs/mount $disk"; finish; }
  SCRATCH=/mnt/scratch
}

# java_checks LOG TIMEOUT JAVA_ARGS...: runs a JVM whose "PASS ..." / "FAIL ..." lines become the scenario's checks
# (other lines pass through), its whole output also into LOG; sets JAVA_CHECKS_EXIT to its exit status.
java_checks() {
  local log=$1 timeout=$2 line
  shift 2
  JAVA_CHECKS_EXIT=
  shopt -s lastpipe
  { timeout "$timeout" "$@" 2>&1; echo "EXIT $?"; } | tee "$log" | while IFS= read -r line; do
    case $line in
      "PASS "*) ok "${line#PASS }" ;;
      "FAIL "*) fail "${line#FAIL }" ;;
      "EXIT "*) JAVA_CHECKS_EXIT=${line#EXIT } ;;
      *) echo "$line" ;;
    esac
  done
}

# mode_arg MODE: the ublk add option for a loop mode ("direct" or "buffered").
mode_arg() {
  case "$1" in
    direct) echo --direct ;;
    buffered) echo --buffered ;;
    *) echo "unknown mode '$1' (direct|buffered)" >&2; exit 2 ;;
  esac
}

# sha FILE [BYTES]: sha256 of a file or device, optionally of its first BYTES.
sha() {
  if [[ -n "${2:-}" ]]; then head -c "$2" "$1" | sha256sum | cut -d' ' -f1; else sha256sum <"$1" | cut -d' ' -f1; fi
}

# drop_caches: so reads come from the backing store, not the guest page cache.
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# power_cut MIN MAX: asks the host (vm-tests/run --boots N) to cut this boot's power at a random moment
# MIN..MAX whole seconds from now: QEMU is killed, nothing more runs in the guest, and the next boot follows.
# Never returns: fails the scenario in the last boot, or when no cut comes. If a check of this boot failed,
# it ends the scenario instead (the run's verdict): a boot that ends in a cut reports no status.
power_cut() {
  local ctl=/jublk-out/.jublk-vm wait=$((${2:?power_cut MIN MAX} + 120))
  ((SCENARIO_FAILED + $(wc -l <"$SCENARIO_FAILURES") == 0)) || finish
  if ((${JUBLK_VM_BOOT:-1} >= ${JUBLK_VM_BOOTS:-1})); then
    fail "power_cut in boot ${JUBLK_VM_BOOT:-1} of ${JUBLK_VM_BOOTS:-1}: no boot follows (vm-tests/run --boots N)"
    finish
  fi
  # Written whole, then renamed: the host never reads half a request.
  echo "$1 $2" >"$ctl/power-cut.new" && mv "$ctl/power-cut.new" "$ctl/power-cut"
  info "power cut in $1-$2 s (boot $JUBLK_VM_BOOT of $JUBLK_VM_BOOTS)"
  sleep "$wait"
  fail "the host did not cut the power within ${wait}s of the request"
  finish
}
