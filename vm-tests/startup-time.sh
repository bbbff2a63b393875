#!/bin/bash
# Start-up as a user sees it (issue 11): the time from `ublk add` to the device serving at >= 90 % of its steady
# rate, in this VM. A harness tool, not a `# vm-test:` scenario (it measures, it checks nothing):
#
#   vm-tests/run --disk 2G startup-time.sh [ROUNDS]      # default 3 rounds
#
# Per round and target (null, loop with O_DIRECT on an ext4 file): `ublk add` (wall time until it printed the
# device), then fio 4 KiB random reads at QD32 for 40 s with IOPS logged per second. Steady = the median of the
# last 15 s; "to 90 %" = add time + the first second whose IOPS reach 90 % of that. Also `ublk --version` (a
# command's JVM) and `ublk del`. Prints one line per round and target, and the medians.
. "$(dirname "$0")/lib/scenario.sh"
rounds=${1:-3}
w=/tmp/startup-time
mkdir -p $w
scratch_fs
truncate -s 1G "$SCRATCH/loop.img"
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

s=$(date +%s%N); ublk --version >/dev/null; info "ublk --version (first, maps the AOT cache): $(ms_since "$s") ms"
declare -A res
for r in $(seq "$rounds"); do
  for t in null loop; do
    args=(null --size 1G)
    [[ $t == loop ]] && args=(loop --file "$SCRATCH/loop.img")
    s=$(date +%s%N)
    dev=$(ublk add "${args[@]}" 2>$w/add.err) || { fail "ublk add $t: $(cat $w/add.err)"; continue; }
    add=$(ms_since "$s")
    rm -f $w/ramp_iops.*.log
    fio --name=ramp --filename="$dev" --ioengine=io_uring --direct=1 --rw=randread --bs=4k --iodepth=32 \
      --time_based --runtime=40 --write_iops_log=$w/ramp --log_avg_msec=1000 --output-format=terse >/dev/null 2>&1
    # steady: median of the last 15 one-second samples; first second at >= 90 % of it
    steady=$(awk -F, '{ print $2 + 0 }' $w/ramp_iops.1.log | tail -n 15 | sort -n | sed -n 8p)
    first=$(awk -F, -v m="${steady:-0}" '$2 + 0 >= 0.9 * m { print NR; exit }' $w/ramp_iops.1.log)
    [[ -n $steady && -n $first ]] || { fail "no IOPS log from fio on $t"; continue; }
    to90=$((add + first * 1000))
    s=$(date +%s%N); ublk del -n "$(dev_id "$dev")"; del=$(ms_since "$s")
    info "round $r $t: add $add ms, steady $steady IOPS, 90 % after $first s of I/O: $to90 ms from add; del $del ms"
    res[$t-add]+="$add " res[$t-to90]+="$to90 "
  done
done
med() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for t in null loop; do
  info "median $t: ublk add $(med "${res[$t-add]}") ms; serving at >= 90 % $(med "${res[$t-to90]}") ms after the add began"
done
umount "$SCRATCH"
finish
