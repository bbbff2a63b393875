#!/bin/bash
# The benchmark's guest side (issue 7): run by vm-tests/bench/run through vm-tests/run, in ONE VM with one
# scratch disk (/dev/vda). Writes raw results into $JUBLK_OUT (the results folder); the host turns them into
# tables (lib/report.py). Not a test: it exits 0 unless the setup itself failed; a cell that fails is
# recorded as failed and the run goes on.
#
#   guest.sh [--quick] [--rounds N] [--only REGEX]
#
# Environment (from the host): JUBLK_BENCH_KUBLK (path of the kublk binary) or JUBLK_BENCH_KUBLK_NA (why
# there is none); JUBLK_DAEMON_JAVA_OPTS (set here: GC log of every jublk daemon).
#
# Output ($JUBLK_OUT):
#   cells.tsv          one line per measured cell (table, workload, contender, round, status, files...)
#   fio/*.json         fio's JSON output per cell
#   samples/*.txt      1-second samples during each cell (see sampler below)
#   contenders.tsv     contender -> device, server pid, or n/a and why
#   gc/gc-<pid>.log    GC logs of the jublk daemons; gcwin.txt the 30 s GC run's window
#   logs/              device set-up output, daemon logs, dmesg
#   meta.txt           parameters, kernel, versions, timings
set -uo pipefail

quick=0 rounds=3 only="" warmup=""
while (($#)); do
  case "$1" in
    --quick) quick=1 ;;
    --rounds) rounds="$2"; shift ;;
    --only) only="$2"; shift ;;
    --warmup) warmup="$2"; shift ;;
    *) echo "bench: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

OUT=${JUBLK_OUT:?not in the VM}
mkdir -p "$OUT"/{fio,samples,logs,gc}
t_start=$(date +%s)
say() { printf 'bench [%4ds] %s\n' $(($(date +%s) - t_start)) "$*"; }
meta() { printf '%s=%s\n' "$1" "$2" >>"$OUT/meta.txt"; }
: >"$OUT/meta.txt"

if ((quick)); then
  FILE_SIZE=1280M FS_SIZE=768M RAW_OFF=768M RAW_SIZE=512M
  T1_JOBSIZE=16M T1_RUNTIME=4 T2_RUNTIME=3 T2_RAMP=1 WARMUP=9 GC_RUN=30
else
  FILE_SIZE=4G FS_SIZE=2G RAW_OFF=2G RAW_SIZE=2G
  T1_JOBSIZE=64M T1_RUNTIME=12 T2_RUNTIME=8 T2_RAMP=2 WARMUP=60 GC_RUN=30
fi
[[ -n $warmup ]] && WARMUP=$warmup
T1_JOBS=16 SEQ_DEPTH=8
for v in quick rounds FILE_SIZE FS_SIZE RAW_OFF RAW_SIZE T1_JOBS T1_JOBSIZE T1_RUNTIME T2_RUNTIME T2_RAMP \
  SEQ_DEPTH WARMUP GC_RUN; do meta "$v" "${!v}"; done
meta kernel "$(uname -r)"
meta fio "$(fio --version)"
meta java "$("$JAVA_HOME/bin/java" -version 2>&1 | head -n1)"
meta cpus "$(nproc)"
meta mem_kb "$(awk '/MemTotal/ {print $2}' /proc/meminfo)"
meta sampler "${JUBLK_BENCH_SAMPLER:-shell loop}"
meta jublk_git "$(git -C "$PWD" rev-parse --short HEAD 2>/dev/null || echo '?')"

# The jublk CLI: the jar snapshot the host put into the results folder (immune to rebuilds of target/ while the
# VM runs), started like bin/ublk starts it; bin/ublk itself when there is no snapshot.
if [[ -f $OUT/jublk/jublk.jar ]]; then
  jmajor=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$JAVA_HOME/release")
  UBLK_CMD=("$JAVA_HOME/bin/java" -Xint -XX:+UseSerialGC -XX:-UsePerfData)
  if [[ -f $OUT/jublk/jublk-jdk$jmajor.aot ]]; then
    UBLK_CMD+=(-XX:AOTCache="$OUT/jublk/jublk-jdk$jmajor.aot" -Xlog:aot=off -Xlog:cds=off)
  elif [[ -f $OUT/jublk/jublk-jdk$jmajor.jsa ]]; then
    UBLK_CMD+=(-XX:SharedArchiveFile="$OUT/jublk/jublk-jdk$jmajor.jsa" -Xshare:auto -Xlog:cds=off)
  fi
  UBLK_CMD+=(-jar "$OUT/jublk/jublk.jar")
  meta jublk_jar "snapshot $(cat "$OUT/jublk/git-head" 2>/dev/null) ($(wc -l <"$OUT/jublk/git-status" 2>/dev/null || echo '?') changed files)"
else
  UBLK_CMD=(ublk)
  meta jublk_jar "bin/ublk"
fi
ublk() { "${UBLK_CMD[@]}" "$@"; }

# ---- setup: scratch ext4, backing file ---------------------------------------------------------------------
[[ -b /dev/vda ]] || { echo "bench: no scratch disk /dev/vda (vm-tests/run --disk 8G)"; exit 1; }
# Dirty page limits: buffered writes reach the device within the run instead of piling up in guest RAM
# (the same for every contender). Read-ahead stays at the default.
sysctl -qw vm.dirty_bytes=$((64 << 20)) vm.dirty_background_bytes=$((16 << 20))
meta dirty_bytes 64M
say "mkfs on /dev/vda"
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 /dev/vda || exit 1
mkdir -p /mnt/scratch /mnt/b
mount -o noatime /dev/vda /mnt/scratch || exit 1
IMG=/mnt/scratch/backing.img
CEIL=/mnt/scratch/ceiling
mkdir -p "$CEIL"
fallocate -l "$FILE_SIZE" "$IMG" || exit 1

# The backing file: [0, FS_SIZE) holds an ext4 with the fio files of table 1 (made once, through a kernel loop
# device; every contender mounts the same file system in turn), [RAW_OFF, end) is the raw region of tables 2
# and 4, filled with data so reads do not hit unwritten extents.
say "filling the raw region ($RAW_SIZE at $RAW_OFF) and making the ext4 ($FS_SIZE)"
fio --name=fill --filename="$IMG" --offset="$RAW_OFF" --size="$RAW_SIZE" --rw=write --bs=1M --direct=1 \
  --ioengine=io_uring --iodepth=8 --eta=never --output=/dev/null || exit 1
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$IMG" "$FS_SIZE" >"$OUT/logs/mkfs.log" 2>&1 || exit 1
setup_loop=$(losetup -f --show "$IMG") || exit 1
mount -o noatime "$setup_loop" /mnt/b || exit 1
t1_layout() { # DIR: lay out the table-1 files (fio reuses them as long as name and size match)
  fio --name=t1 --directory="$1" --numjobs=$T1_JOBS --size=$T1_JOBSIZE --rw=write --bs=1M --ioengine=psync \
    --end_fsync=1 --eta=never --output=/dev/null
}
t1_layout /mnt/b || exit 1
umount /mnt/b && losetup -d "$setup_loop" || exit 1
t1_layout "$CEIL" || exit 1
sync

# ---- contenders --------------------------------------------------------------------------------------------
# name -> device (or file/dir for the ceiling), server pid, kind. n/a contenders keep a reason.
declare -A DEV=() PID=() NA=()
contender_line() { printf '%s\t%s\t%s\t%s\n' "$1" "${DEV[$1]:-}" "${PID[$1]:-}" "${NA[$1]:-}" >>"$OUT/contenders.tsv"; }
: >"$OUT/contenders.tsv"
export JUBLK_DAEMON_JAVA_OPTS="${JUBLK_DAEMON_JAVA_OPTS:-} -Xlog:gc*:file=$OUT/gc/gc-%p.log:time,uptimemillis,level,tags"
meta daemon_java_opts "$JUBLK_DAEMON_JAVA_OPTS"

add_jublk() { # NAME ARGS...
  local name=$1 out id t0=$SECONDS
  shift
  say "ublk add $*"
  if out=$(ublk add "$@" 2>"$OUT/logs/add-$name.err"); then
    DEV[$name]=$(head -n1 <<<"$out")
    id=${DEV[$name]#/dev/ublkb}
    PID[$name]=$(ublk list -n "$id" --json | grep -o '"pid": *[0-9]*' | grep -o '[0-9]*$' | head -n1)
    say "  $name: ${DEV[$name]} pid ${PID[$name]} ($((SECONDS - t0)) s)"
    [[ -b ${DEV[$name]} && -n ${PID[$name]} ]] || NA[$name]="ublk add gave '${DEV[$name]}', pid '${PID[$name]}'"
  else
    NA[$name]="ublk add failed: $(tail -n1 "$OUT/logs/add-$name.err")"
    say "  $name: ${NA[$name]}"
  fi
  cp /run/jublk/*.log "$OUT/logs/" 2>/dev/null
  meta "add_seconds_$name" $((SECONDS - t0))
}

KUBLK=${JUBLK_BENCH_KUBLK:-}
add_kublk() { # NAME ARGS...
  local name=$1 out id
  shift
  if [[ -z $KUBLK ]]; then
    NA[$name]="kublk not built: ${JUBLK_BENCH_KUBLK_NA:-unknown reason}"
    return
  fi
  say "kublk add $*"
  if out=$("$KUBLK" add "$@" 2>&1); then
    echo "$out" >"$OUT/logs/add-$name.out"
    id=$(sed -n 's/^dev id \([0-9]*\):.*/\1/p' <<<"$out" | head -n1)
    DEV[$name]=/dev/ublkb$id
    PID[$name]=$(sed -n 's/.*daemon pid \([0-9]*\).*/\1/p' <<<"$out" | head -n1)
    for _ in 1 2 3 4 5 6 7 8 9 10; do [[ -b ${DEV[$name]} ]] && break; sleep 0.5; done
    say "  $name: ${DEV[$name]} pid ${PID[$name]}"
    [[ -n $id && -b ${DEV[$name]} && -n ${PID[$name]} ]] || NA[$name]="kublk add: no device/pid in its output"
  else
    echo "$out" >"$OUT/logs/add-$name.out"
    NA[$name]="kublk add failed: $(tail -n1 <<<"$out")"
  fi
}

# Kernel loop, both modes, on the same backing file.
DEV[kloop-buf]=$(losetup -f --show --direct-io=off "$IMG") || NA[kloop-buf]="losetup failed"
DEV[kloop-dio]=$(losetup -f --show --direct-io=on "$IMG") || NA[kloop-dio]="losetup --direct-io=on failed"
if [[ -z ${NA[kloop-dio]:-} ]] && ! losetup -l -n -O DIO "${DEV[kloop-dio]}" | grep -q 1; then
  NA[kloop-dio]="the kernel refused direct I/O on the loop device"
fi
DEV[file]=$IMG
# jublk: one queue, depth 128 (its defaults); kublk with the same.
add_jublk jublk-buf loop --file "$IMG" --buffered -q 1 -d 128
add_jublk jublk-dio loop --file "$IMG" --direct -q 1 -d 128
add_kublk kublk-loop -t loop -q 1 -d 128 "$IMG"
# Zero copy (UBLK_F_AUTO_BUF_REG): both servers' O_DIRECT backing I/O on the request's own pages.
add_jublk jublk-zc loop --file "$IMG" --direct --zero-copy -q 1 -d 128
add_kublk kublk-zc -t loop -q 1 -d 128 --auto_zc "$IMG"
add_jublk jublk-null null --size 4G -q 1 -d 128
add_kublk kublk-null -t null -q 1 -d 128
if modprobe null_blk nr_devices=1 queue_mode=2 irqmode=0 gb=4 bs=512 submit_queues=1 hw_queue_depth=128 &&
  [[ -b /dev/nullb0 ]]; then
  DEV[null_blk]=/dev/nullb0
else
  NA[null_blk]="modprobe null_blk failed"
fi
LOOP_CONTENDERS=(kloop-buf kloop-dio jublk-buf jublk-dio kublk-loop jublk-zc kublk-zc file)
NULL_CONTENDERS=(jublk-null kublk-null null_blk)
for c in "${LOOP_CONTENDERS[@]}" "${NULL_CONTENDERS[@]}"; do contender_line "$c"; done
ublk list >"$OUT/logs/ublk-list.txt" 2>&1
[[ -n $KUBLK ]] && "$KUBLK" list >"$OUT/logs/kublk-list.txt" 2>&1
losetup -l >"$OUT/logs/losetup.txt" 2>&1

# ---- measurement -------------------------------------------------------------------------------------------
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# The block device whose /sys/block/X/stat counts a contender's I/O (the scratch disk for the ceiling).
stat_file() {
  local d=$1
  [[ -b $d ]] || d=/dev/vda
  d=$(readlink -f "$d")
  echo "/sys/block/${d##*/}/stat"
}

# sampler STATFILE PID OUTFILE: lib/sampler.c (built on the host) every 500 ms; without it, this shell loop
# once a second (bash builtins, but it still costs ~0.5 s of CPU per sample under TCG: avoid). Fields:
#   uptime dev_reads dev_writes cpu(user nice system idle iowait irq softirq steal) ctxt Cached_kB Dirty_kB
#   pid_utime pid_stime pid_voluntary_cs pid_nonvoluntary_cs (summed over /proc/PID/task/*; '-' if no pid)
#   queue_ticks iouring_worker_ticks jit_ticks (per thread name; lib/sampler.c only)
sampler() {
  if [[ -n ${JUBLK_BENCH_SAMPLER:-} ]]; then
    exec "$JUBLK_BENCH_SAMPLER" "$1" "$2" 500 >>"$3"
  fi
  local statf=$1 pid=$2 out=$3 up rd wr k v a b c d e f g h ctxt cached dirty ut st vcs nvcs line x
  local -a s
  while :; do
    read -r up _ </proc/uptime
    read -r rd _ _ _ wr _ </"$statf"
    ctxt=0
    while read -r k a b c d e f g h _; do
      case $k in
        cpu) x="$a $b $c $d $e $f $g $h" ;;
        ctxt) ctxt=$a; break ;;
      esac
    done </proc/stat
    cached=0 dirty=0
    while read -r k v _; do
      case $k in
        Cached:) cached=$v ;;
        Dirty:) dirty=$v; break ;;
      esac
    done </proc/meminfo
    ut=- st=- vcs=- nvcs=-
    if [[ $pid != - ]] && read -r line </proc/"$pid"/stat 2>/dev/null; then
      line=${line##*) }
      read -ra s <<<"$line"
      ut=${s[11]} st=${s[12]} vcs=0 nvcs=0
      for f in /proc/"$pid"/task/*/status; do
        while read -r k v; do
          case $k in
            voluntary_ctxt_switches:) vcs=$((vcs + v)) ;;
            nonvoluntary_ctxt_switches:) nvcs=$((nvcs + v)); break ;;
          esac
        done <"$f" 2>/dev/null
      done
    fi
    echo "$up $rd $wr $x $ctxt $cached $dirty $ut $st $vcs $nvcs - - -" >>"$out"
    sleep 1
  done
}

# cell TABLE WORKLOAD CONTENDER ROUND FIO-ARGS...: one measurement; appends a line to cells.tsv:
#   table workload contender round status fio_json samples cached_before_kB cached_after_kB seconds
cell() {
  local table=$1 wl=$2 c=$3 r=$4 tag status=ok t0=$SECONDS cb ca spid
  shift 4
  [[ -n $only && ! "$table/$wl/$c" =~ $only ]] && return
  tag="$table-$wl-$c-r$r"
  if [[ -n ${NA[$c]:-} ]]; then
    printf '%s\t%s\t%s\t%s\tna\t\t\t\t\t0\t%s\n' "$table" "$wl" "$c" "$r" "${NA[$c]}" >>"$OUT/cells.tsv"
    return
  fi
  local target=${DEV[$c]} pid=${PID[$c]:--} dir=""
  if [[ $table == fs ]]; then
    if [[ $c == file ]]; then
      dir=$CEIL
    else
      mount -o noatime "$target" /mnt/b 2>"$OUT/logs/mount-$tag.err" || { status=mount-failed; }
      dir=/mnt/b
    fi
  fi
  drop_caches
  cb=$(awk '/^Cached:/ {print $2}' /proc/meminfo)
  if [[ $status == ok ]]; then
    sampler "$(stat_file "$target")" "$pid" "$OUT/samples/$tag.txt" &
    spid=$!
    if [[ $table == fs ]]; then
      fio --name=t1 --directory="$dir" --numjobs=$T1_JOBS --size=$T1_JOBSIZE --bs=4k --ioengine=psync \
        --runtime=$T1_RUNTIME --group_reporting --output-format=json --output="$OUT/fio/$tag.json" "$@" \
        >"$OUT/logs/fio-$tag.err" 2>&1 || status=fio-failed
    else
      local where=(--filename="$target")
      [[ $table != null ]] && where+=(--offset="$RAW_OFF" --size="$RAW_SIZE")
      fio --name="$wl" "${where[@]}" --ioengine=io_uring --direct=1 --time_based --runtime=$T2_RUNTIME \
        --ramp_time=$T2_RAMP --randrepeat=0 --norandommap --lat_percentiles=1 --output-format=json \
        --output="$OUT/fio/$tag.json" "$@" >"$OUT/logs/fio-$tag.err" 2>&1 || status=fio-failed
    fi
    kill "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
  fi
  ca=$(awk '/^Cached:/ {print $2}' /proc/meminfo)
  if [[ $table == fs && $c != file ]] && mountpoint -q /mnt/b; then
    umount /mnt/b || status=umount-failed
  fi
  [[ -s $OUT/logs/fio-$tag.err ]] || rm -f "$OUT/logs/fio-$tag.err"
  [[ -s $OUT/logs/mount-$tag.err ]] || rm -f "$OUT/logs/mount-$tag.err"
  if [[ $status != ok ]] && [[ -n $pid && $pid != - ]] && ! kill -0 "$pid" 2>/dev/null; then
    status="$status,server-died"
    NA[$c]="server died during $tag"
  fi
  printf '%s\t%s\t%s\t%s\t%s\tfio/%s.json\tsamples/%s.txt\t%s\t%s\t%s\t\n' "$table" "$wl" "$c" "$r" "$status" \
    "$tag" "$tag" "$cb" "$ca" $((SECONDS - t0)) >>"$OUT/cells.tsv"
  [[ $status == ok ]] || say "  $tag: $status"
}

# Workloads: name and fio arguments, per table.
FS_WORKLOADS=(randread read randwrite write)
declare -A FS_ARGS=(
  [randread]="--rw=randread"
  [read]="--rw=read"
  [randwrite]="--rw=randwrite --end_fsync=1"
  [write]="--rw=write --end_fsync=1"
)
RAW_WORKLOADS=(randread-qd1 randwrite-qd1 randread-qd32 randwrite-qd32 read-512k write-512k)
declare -A RAW_ARGS=(
  [randread-qd1]="--rw=randread --bs=4k --iodepth=1"
  [randwrite-qd1]="--rw=randwrite --bs=4k --iodepth=1"
  [randread-qd32]="--rw=randread --bs=4k --iodepth=32"
  [randwrite-qd32]="--rw=randwrite --bs=4k --iodepth=32"
  [read-512k]="--rw=read --bs=512k --iodepth=$SEQ_DEPTH"
  [write-512k]="--rw=write --bs=512k --iodepth=$SEQ_DEPTH"
)
NULL_WORKLOADS=(randread-qd32 randread-qd1)
declare -A NULL_ARGS=(
  [randread-qd32]="--rw=randread --bs=4k --iodepth=32"
  [randread-qd1]="--rw=randread --bs=4k --iodepth=1"
)

# --quick: a subset that still goes through every table and code path (fewer cells, a few minutes).
if ((quick)); then
  FS_WORKLOADS=(randread write)
  RAW_WORKLOADS=(randread-qd1 randwrite-qd32 read-512k)
fi

# rotate N NAMES...: the names, starting at index N mod count (each round starts with another contender).
rotate() {
  local n=$1
  shift
  local a=("$@") i
  for ((i = 0; i < ${#a[@]}; i++)); do echo "${a[(i + n) % ${#a[@]}]}"; done
}

# ---- warm-up: the servers' JIT (and kublk's caches), on the raw region -------------------------------------
say "warm-up: ${WARMUP}s (kublk $((WARMUP / 3))s) of mixed random + sequential I/O per user-space server"
for c in jublk-buf jublk-dio kublk-loop jublk-zc kublk-zc jublk-null kublk-null; do
  [[ -n ${NA[$c]:-} ]] && continue
  off=(--offset="$RAW_OFF" --size="$RAW_SIZE")
  [[ $c == *-null ]] && off=()
  # kublk (C) has nothing to warm up but its caches: a third of the time.
  w=$WARMUP
  [[ $c == kublk-* ]] && w=$((WARMUP / 3))
  t0=$SECONDS
  if ! fio --name=warm --filename="${DEV[$c]}" "${off[@]}" --ioengine=io_uring --direct=1 --rw=randrw --bs=4k \
    --iodepth=32 --time_based --runtime=$((w * 2 / 3)) --norandommap --output=/dev/null >/dev/null 2>&1 ||
    ! fio --name=warm --filename="${DEV[$c]}" "${off[@]}" --ioengine=io_uring --direct=1 --rw=rw --bs=512k \
      --iodepth=8 --time_based --runtime=$((w / 3)) --output=/dev/null >/dev/null 2>&1; then
    NA[$c]="fio failed during warm-up"
    say "  $c: warm-up failed"
  fi
  say "  $c warmed up ($((SECONDS - t0)) s)"
done
meta warmup_done_uptime "$(cut -d' ' -f1 /proc/uptime)"
meta warmup_done_epoch "$(date +%s.%N)"

# ---- rounds: every workload, contenders interleaved --------------------------------------------------------
: >"$OUT/cells.tsv"
for ((r = 1; r <= rounds; r++)); do
  say "round $r/$rounds: table 1 (ext4 on the device, psync 4k x $T1_JOBS jobs)"
  for wl in "${FS_WORKLOADS[@]}"; do
    for c in $(rotate $((r - 1)) "${LOOP_CONTENDERS[@]}"); do
      # shellcheck disable=SC2086 # the arguments are words
      cell fs "$wl" "$c" "$r" ${FS_ARGS[$wl]}
    done
  done
  say "round $r/$rounds: table 2 (raw device, io_uring O_DIRECT)"
  for wl in "${RAW_WORKLOADS[@]}"; do
    for c in $(rotate $((r - 1)) "${LOOP_CONTENDERS[@]}"); do
      # shellcheck disable=SC2086
      cell raw "$wl" "$c" "$r" ${RAW_ARGS[$wl]}
    done
  done
  say "round $r/$rounds: table 3 (null targets)"
  for wl in "${NULL_WORKLOADS[@]}"; do
    for c in $(rotate $((r - 1)) "${NULL_CONTENDERS[@]}"); do
      # shellcheck disable=SC2086
      cell null "$wl" "$c" "$r" ${NULL_ARGS[$wl]}
    done
  done
done

# ---- GC: one long full-speed run on jublk --direct, its window recorded for the GC log ---------------------
if [[ -z ${NA[jublk-dio]:-} ]] && [[ -z $only || "gc" =~ $only ]]; then
  say "GC check: ${GC_RUN}s randread+randwrite 4k qd32 on jublk --direct"
  {
    echo "pid=${PID[jublk-dio]}"
    echo "start_epoch=$(date +%s.%N)"
  } >"$OUT/gcwin.txt"
  save_rt=$T2_RUNTIME save_ramp=$T2_RAMP
  T2_RUNTIME=$GC_RUN T2_RAMP=0
  cell gc randrw-qd32 jublk-dio 1 --rw=randrw --bs=4k --iodepth=32
  T2_RUNTIME=$save_rt T2_RAMP=$save_ramp
  echo "end_epoch=$(date +%s.%N)" >>"$OUT/gcwin.txt"
fi

# ---- teardown ----------------------------------------------------------------------------------------------
say "teardown"
cp /run/jublk/*.log "$OUT/logs/" 2>/dev/null
for c in jublk-buf jublk-dio jublk-zc jublk-null; do
  [[ -n ${DEV[$c]:-} && -b ${DEV[$c]} ]] && ublk del -n "${DEV[$c]#/dev/ublkb}" >>"$OUT/logs/del.log" 2>&1
done
for c in kublk-loop kublk-zc kublk-null; do
  [[ -n $KUBLK && -n ${DEV[$c]:-} && -b ${DEV[$c]} ]] && "$KUBLK" del -n "${DEV[$c]#/dev/ublkb}" >>"$OUT/logs/del.log" 2>&1
done
for c in kloop-buf kloop-dio; do [[ -n ${DEV[$c]:-} ]] && losetup -d "${DEV[$c]}"; done
lsmod | grep -q '^null_blk' && rmmod null_blk
umount /mnt/scratch
meta total_seconds $(($(date +%s) - t_start))
say "done"
exit 0
