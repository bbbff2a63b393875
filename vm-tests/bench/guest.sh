#!/bin/bash
# The benchmark's guest side (issue 7): run by vm-tests/bench/run through vm-tests/run, in ONE VM with one
# scratch disk (/dev/vda). Writes raw results into $JUBLK_OUT (the results folder); the host turns them into
# tables (lib/report.py). Not a test: it exits 0 unless the setup itself failed; a cell that fails is
# recorded as failed and the run goes on.
#
#   guest.sh [--quick] [--rounds N] [--only REGEX]
#
# Environment (from the host): JUBLK_BENCH_KUBLK (path of the kublk binary) or JUBLK_BENCH_KUBLK_NA (why
# there is none); JUBLK_BENCH_NBD_KO (the guest kernel's nbd.ko, lib/nbd-module) or JUBLK_BENCH_NBD_NA (why
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
  FILE_SIZE=1280M FS_SIZE=768M RAW_OFF=768M RAW_SIZE=512M RAW_SIZE_MIB=512
  T1_JOBSIZE=16M T1_RUNTIME=4 T2_RUNTIME=3 T2_RAMP=1 WARMUP=9 GC_RUN=30
else
  FILE_SIZE=4G FS_SIZE=2G RAW_OFF=2G RAW_SIZE=2G RAW_SIZE_MIB=2048
  T1_JOBSIZE=64M T1_RUNTIME=12 T2_RUNTIME=8 T2_RAMP=2 WARMUP=60 GC_RUN=30
fi
[[ -n $warmup ]] && WARMUP=$warmup
T1_JOBS=16 SEQ_DEPTH=8
# The nbd table: one nbdkit memory export of NBD_SIZE (guest RAM, filled once), 4096-byte blocks for both clients.
NBD_SIZE_MIB=512 NBD_BS=4096 ALL_CPUS=0-$(($(nproc) - 1))
for v in quick rounds FILE_SIZE FS_SIZE RAW_OFF RAW_SIZE T1_JOBS T1_JOBSIZE T1_RUNTIME T2_RUNTIME T2_RAMP \
  SEQ_DEPTH WARMUP GC_RUN NBD_SIZE_MIB NBD_BS; do meta "$v" "${!v}"; done
meta kernel "$(uname -r)"
meta fio "$(fio --version)"
meta nbdkit "$(nbdkit --version 2>&1 | head -n1)"
meta nbd_client "nbd-client $(nbd-client -V 2>&1 | sed -n 's/.* from nbd //p' | head -n1)"
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

# ---- workloads and contenders ----------------------------------------------------------------------------------
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

NBD_WORKLOADS=(randread-qd1 randread-qd32 randwrite-qd32 read-512k write-512k)
declare -A NBD_ARGS=(
  [randread-qd1]="--rw=randread --bs=4k --iodepth=1"
  [randread-qd32]="--rw=randread --bs=4k --iodepth=32"
  [randwrite-qd32]="--rw=randwrite --bs=4k --iodepth=32"
  [read-512k]="--rw=read --bs=512k --iodepth=$SEQ_DEPTH"
  [write-512k]="--rw=write --bs=512k --iodepth=$SEQ_DEPTH"
)
# queue_args WORKLOAD QUEUES REGION_MIB ARGS: the fio arguments ARGS (ending in --iodepth=N) of a cell on a
# device with QUEUES hardware queues (or NBD connections); none (status 1) if the cell is not run. With two
# queues the job is split in two, one per vCPU, each with half the depth (the same total), reported as one:
# blk-mq maps a CPU to one hardware queue, so a single fio job would keep one queue busy and leave the other
# idle. Sequential jobs each get their own half of the region (REGION_MIB, from the cell's offset). Queue
# depth 1 is one job: one queue only, so it is not run.
queue_args() {
  local args=$4 depth
  (($2 == 1)) && { echo "$args"; return 0; }
  depth=${args##*--iodepth=}
  ((depth >= $2)) || return 1
  args="${args%--iodepth=*}--iodepth=$((depth / $2)) --numjobs=$2 --cpus_allowed=$ALL_CPUS"
  args+=" --cpus_allowed_policy=split --group_reporting"
  [[ $1 == *-512k ]] && args+=" --size=$(($3 / $2))M --offset_increment=$(($3 / $2))M"
  echo "$args"
}
nbd_args() { queue_args "$1" "$2" "$NBD_SIZE_MIB" "${NBD_ARGS[$1]}"; } # WORKLOAD CONNECTIONS
# queues CONTENDER: its number of hardware queues (NBD: connections)
queues() { [[ $1 == *-q2 || $1 == *-c2 ]] && echo 2 || echo 1; }
# without_qd1 WORKLOAD...: the workloads a two-queue contender runs
without_qd1() { local wl; for wl; do [[ $wl == *-qd1 ]] || echo "$wl"; done; }

# --quick: a subset that still goes through every table and code path (fewer cells, a few minutes).
if ((quick)); then
  FS_WORKLOADS=(randread write)
  RAW_WORKLOADS=(randread-qd1 randwrite-qd32 read-512k)
  NBD_WORKLOADS=(randread-qd32 write-512k)
fi
# Tables 1 and 2: the loop contenders. Table 2 only (table 1 is slow): jublk against kublk with the same
# options, batch I/O (UBLK_F_BATCH_IO) and two queues.
LOOP_CONTENDERS=(kloop-buf kloop-dio jublk-buf jublk-dio kublk-loop jublk-zc kublk-zc jublk-bzc jublk-zc-q2 jublk-bzc-q2
  kublk-zc-q2 file)
RAW_ONLY_CONTENDERS=(jublk-dio-batch kublk-loop-batch jublk-dio-q2 kublk-loop-q2)
RAW_CONTENDERS=("${LOOP_CONTENDERS[@]}" "${RAW_ONLY_CONTENDERS[@]}")
NULL_CONTENDERS=(jublk-null kublk-null null_blk jublk-null-batch kublk-null-batch jublk-null-q2 kublk-null-q2 jublk-null-nolev
  jublk-null-float)
# The kernel's NBD client and jublk's, with one connection and with two; jublk's with zero copy and with batch
# I/O (one connection).
NBD_CONTENDERS=(knbd-c1 jublk-nbd-c1 knbd-c2 jublk-nbd-c2 jublk-nbd-zc-c1 jublk-nbd-batch-c1 jublk-nbd-zcb-c1)
# The workloads of the two-queue contenders (no queue depth 1: one queue only).
# shellcheck disable=SC2034 # read by name (wanted)
mapfile -t RAW_WORKLOADS_Q2 < <(without_qd1 "${RAW_WORKLOADS[@]}")
# shellcheck disable=SC2034 # read by name (wanted)
mapfile -t NULL_WORKLOADS_Q2 < <(without_qd1 "${NULL_WORKLOADS[@]}")
# shellcheck disable=SC2034 # read by name (wanted)
mapfile -t NBD_WORKLOADS_Q2 < <(without_qd1 "${NBD_WORKLOADS[@]}")

# wanted CONTENDER TABLE:WORKLOADS_ARRAY...: does --only select one of the contender's cells in these tables?
# A contender nothing selects is not set up at all (a `ublk add` costs half a minute or more under TCG).
wanted() {
  local c=$1 spec arr wl
  shift
  [[ -z $only ]] && return 0
  for spec; do
    arr="${spec#*:}[@]"
    for wl in "${!arr}"; do [[ "${spec%%:*}/$wl/$c" =~ $only ]] && return 0; done
  done
  return 1
}
# select_contender CONTENDER TABLE:WORKLOADS_ARRAY...: wanted, or n/a saying why not.
select_contender() {
  wanted "$@" && return 0
  NA[$1]="not selected by --only"
  return 1
}
declare -A DEV=() PID=() NA=()
q2() { [[ $(queues "$1") == 2 ]] && echo _Q2; } # q2 CONTENDER: the suffix of its workload arrays
for c in "${LOOP_CONTENDERS[@]}"; do
  # jublk --direct also serves the GC run.
  [[ $c == jublk-dio && -n $only && "gc" =~ $only ]] && continue
  select_contender "$c" fs:FS_WORKLOADS "raw:RAW_WORKLOADS$(q2 "$c")"
done
for c in "${RAW_ONLY_CONTENDERS[@]}"; do select_contender "$c" "raw:RAW_WORKLOADS$(q2 "$c")"; done
for c in "${NULL_CONTENDERS[@]}"; do select_contender "$c" "null:NULL_WORKLOADS$(q2 "$c")"; done
for c in "${NBD_CONTENDERS[@]}"; do select_contender "$c" "nbd:NBD_WORKLOADS$(q2 "$c")"; done
use() { [[ -z ${NA[$1]:-} ]]; } # use CONTENDER: selected, and set up so far
any_of() { local c; for c; do use "$c" && return 0; done; return 1; }

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

# The backing file: [0, FS_SIZE) holds an ext4 with the fio files of table 1 (made once, through a kernel loop
# device; every contender mounts the same file system in turn), [RAW_OFF, end) is the raw region of tables 2
# and 4, filled with data so reads do not hit unwritten extents. Only if a contender serving it is selected.
t1_layout() { # DIR: lay out the table-1 files (fio reuses them as long as name and size match)
  fio --name=t1 --directory="$1" --numjobs=$T1_JOBS --size=$T1_JOBSIZE --rw=write --bs=1M --ioengine=psync \
    --end_fsync=1 --eta=never --output=/dev/null
}
if any_of "${RAW_CONTENDERS[@]}"; then
  fallocate -l "$FILE_SIZE" "$IMG" || exit 1
  say "filling the raw region ($RAW_SIZE at $RAW_OFF) and making the ext4 ($FS_SIZE)"
  fio --name=fill --filename="$IMG" --offset="$RAW_OFF" --size="$RAW_SIZE" --rw=write --bs=1M --direct=1 \
    --ioengine=io_uring --iodepth=8 --eta=never --output=/dev/null || exit 1
  mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$IMG" "$FS_SIZE" >"$OUT/logs/mkfs.log" 2>&1 || exit 1
  setup_loop=$(losetup -f --show "$IMG") || exit 1
  mount -o noatime "$setup_loop" /mnt/b || exit 1
  t1_layout /mnt/b || exit 1
  umount /mnt/b && losetup -d "$setup_loop" || exit 1
  t1_layout "$CEIL" || exit 1
  sync
fi

# ---- contenders --------------------------------------------------------------------------------------------
# name -> device (or file/dir for the ceiling), server pid, kind (DEV, PID, NA above). n/a contenders keep a
# reason.
contender_line() { printf '%s\t%s\t%s\t%s\n' "$1" "${DEV[$1]:-}" "${PID[$1]:-}" "${NA[$1]:-}" >>"$OUT/contenders.tsv"; }
: >"$OUT/contenders.tsv"
export JUBLK_DAEMON_JAVA_OPTS="${JUBLK_DAEMON_JAVA_OPTS:-} -Xlog:gc*:file=$OUT/gc/gc-%p.log:time,uptimemillis,level,tags"
meta daemon_java_opts "$JUBLK_DAEMON_JAVA_OPTS"

add_jublk() { # NAME ARGS...
  local name=$1 out id t0=$SECONDS
  shift
  use "$name" || return
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
  use "$name" || return
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
if use kloop-buf; then
  DEV[kloop-buf]=$(losetup -f --show --direct-io=off "$IMG") || NA[kloop-buf]="losetup failed"
fi
if use kloop-dio; then
  DEV[kloop-dio]=$(losetup -f --show --direct-io=on "$IMG") || NA[kloop-dio]="losetup --direct-io=on failed"
  if use kloop-dio && ! losetup -l -n -O DIO "${DEV[kloop-dio]}" | grep -q 1; then
    NA[kloop-dio]="the kernel refused direct I/O on the loop device"
  fi
fi
use file && DEV[file]=$IMG
# jublk: one queue, depth 128; kublk with the same. (jublk's default on the guest's two CPUs is two queues:
# jublk-zc-q2 and jublk-bzc-q2 are what `ublk add loop --direct|--buffered` gives there.) Every jublk loop
# device serves the same file: --allow-shared (jublk refuses a file another of its devices serves, since each device caches it
# unaware of the other; here only one contender does I/O at a time, and caches are dropped before each cell).
# jublk-buf and jublk-dio copy (--no-zero-copy), as kublk loop does; jublk-zc and jublk-bzc have zero copy,
# loop's default on this kernel (jublk-bzc: buffered, i.e. `ublk add loop --buffered` as a user gets it).
add_jublk jublk-buf loop --file "$IMG" --allow-shared --buffered --no-zero-copy -q 1 -d 128
add_jublk jublk-dio loop --file "$IMG" --allow-shared --direct --no-zero-copy -q 1 -d 128
add_kublk kublk-loop -t loop -q 1 -d 128 "$IMG"
# Zero copy (UBLK_F_AUTO_BUF_REG): both servers' O_DIRECT backing I/O on the request's own pages.
add_jublk jublk-zc loop --file "$IMG" --allow-shared --direct --zero-copy -q 1 -d 128
add_kublk kublk-zc -t loop -q 1 -d 128 --auto_zc "$IMG"
add_jublk jublk-bzc loop --file "$IMG" --allow-shared --buffered --zero-copy -q 1 -d 128
# Two queues (kublk's default, and jublk's on two CPUs): jublk's defaults, direct and buffered.
add_jublk jublk-zc-q2 loop --file "$IMG" --allow-shared --direct --zero-copy -q 2 -d 128
add_jublk jublk-bzc-q2 loop --file "$IMG" --allow-shared --buffered --zero-copy -q 2 -d 128
add_kublk kublk-zc-q2 -t loop -q 2 -d 128 --auto_zc "$IMG"
add_jublk jublk-null null --size 4G -q 1 -d 128
# The same with the queue ring's levers (registered ring fd, TASKRUN_FLAG, one CQ-head store per batch) off: A/B.
JUBLK_DAEMON_JAVA_OPTS="$JUBLK_DAEMON_JAVA_OPTS -Djublk.ring.levers=off" add_jublk jublk-null-nolev null --size 4G -q 1 -d 128
# The same with its queue thread free to run on any CPU of its queue's set (-Djublk.queue.affinity=all): pinning A/B.
JUBLK_DAEMON_JAVA_OPTS="$JUBLK_DAEMON_JAVA_OPTS -Djublk.queue.affinity=all" add_jublk jublk-null-float null --size 4G -q 1 -d 128
add_kublk kublk-null -t null -q 1 -d 128
# The same options on both servers: batch I/O (UBLK_F_BATCH_IO: many requests and answers per command), and
# two queues (a queue thread each; the cells run a fio job per vCPU). Copying, as kublk loop without --auto_zc.
add_jublk jublk-dio-batch loop --file "$IMG" --allow-shared --direct --no-zero-copy --batch -q 1 -d 128
add_kublk kublk-loop-batch -t loop -q 1 -d 128 --batch "$IMG"
add_jublk jublk-dio-q2 loop --file "$IMG" --allow-shared --direct --no-zero-copy -q 2 -d 128
add_kublk kublk-loop-q2 -t loop -q 2 -d 128 "$IMG"
add_jublk jublk-null-batch null --size 4G --batch -q 1 -d 128
add_kublk kublk-null-batch -t null -q 1 -d 128 --batch
add_jublk jublk-null-q2 null --size 4G -q 2 -d 128
add_kublk kublk-null-q2 -t null -q 2 -d 128
if ! use null_blk; then
  :
elif modprobe null_blk nr_devices=1 queue_mode=2 irqmode=0 gb=4 bs=512 submit_queues=1 hw_queue_depth=128 &&
  [[ -b /dev/nullb0 ]]; then
  DEV[null_blk]=/dev/nullb0
else
  NA[null_blk]="modprobe null_blk failed"
fi

# NBD (issue 13): ONE nbdkit serves a memory export on a Unix socket, and both NBD clients use it in turn: the
# kernel's (nbd.ko, configured by nbd-client for each cell and disconnected after it: cheap) and jublk's
# (`ublk add nbd`, alive for the whole run like the other jublk servers: a daemon added per cell would be
# measured before its JIT warm-up, and costs half a minute or more to start under TCG). The memory plugin
# does the least work per request of nbdkit's plugins (no file system, no page cache, no disk), so the cells
# measure the clients; it allows multi-conn, so both clients get their second connection.
NBD_RUN=/run/bench-nbd NBD_DEV=/dev/nbd0
NBD_SOCK=$NBD_RUN/nbdkit.sock NBD_PIDF=$NBD_RUN/nbdkit.pid NBD_LOG=$OUT/logs/nbd-client.log
nbd_na() { # REASON CONTENDERS...: n/a for those still in use
  local why=$1 c
  shift
  for c; do use "$c" && NA[$c]=$why; done
}
knbd_connected() { [[ -e /sys/block/${NBD_DEV#/dev/}/pid ]]; }
knbd_connect() { # CONTENDER: the kernel's client, connected with the contender's number of connections
  local n=${1##*-c} q
  echo "# nbd-client -unix $NBD_SOCK $NBD_DEV -b $NBD_BS -C $n" >>"$NBD_LOG"
  nbd-client -unix "$NBD_SOCK" "$NBD_DEV" -b "$NBD_BS" -C "$n" >>"$NBD_LOG" 2>&1 && knbd_connected &&
    (($(cat "/sys/block/${NBD_DEV#/dev/}/size") == NBD_SIZE_MIB * 2048)) &&
    q=("/sys/block/${NBD_DEV#/dev/}/mq"/*) && ((${#q[@]} == n))
}
knbd_disconnect() { # and wait until the kernel has let go of the connections
  echo "# nbd-client -d $NBD_DEV" >>"$NBD_LOG"
  nbd-client -d "$NBD_DEV" >>"$NBD_LOG" 2>&1
  for _ in $(seq 50); do knbd_connected || return 0; sleep 0.2; done
  return 1
}
nbd_fill() { # DEV: the whole export written once (random data), so that no cell pays for allocating its pages
  say "  filling the nbd export through $1"
  fio --name=nbdfill --filename="$1" --rw=write --bs=1M --direct=1 --ioengine=libaio --iodepth=8 --eta=never \
    --output=/dev/null >>"$OUT/logs/nbd-fill.log" 2>&1
}
if any_of "${NBD_CONTENDERS[@]}"; then
  mkdir -p "$NBD_RUN"
  say "nbdkit $(nbdkit --version | awk '{print $2}'): memory plugin, ${NBD_SIZE_MIB} MiB, on $NBD_SOCK"
  if ! nbdkit -U "$NBD_SOCK" -P "$NBD_PIDF" memory "${NBD_SIZE_MIB}M" >"$OUT/logs/nbdkit.log" 2>&1; then
    nbd_na "nbdkit failed: $(tail -n1 "$OUT/logs/nbdkit.log")" "${NBD_CONTENDERS[@]}"
  fi
fi
nbd_filled=0
if any_of knbd-c1 knbd-c2; then
  # The guest kernel's own module (the harness does not ship it: lib/nbd-module takes it from the kernel package).
  if [[ -d /sys/module/nbd ]] || modprobe nbd nbds_max=1 max_part=0 2>/dev/null; then
    meta nbd_ko "modprobe nbd"
  elif [[ -z ${JUBLK_BENCH_NBD_KO:-} ]]; then
    nbd_na "no nbd.ko: ${JUBLK_BENCH_NBD_NA:-unknown reason}" knbd-c1 knbd-c2
  elif insmod "$JUBLK_BENCH_NBD_KO" nbds_max=1 max_part=0 2>"$OUT/logs/insmod-nbd.err"; then
    meta nbd_ko "$JUBLK_BENCH_NBD_KO"
    rm -f "$OUT/logs/insmod-nbd.err"
  else
    nbd_na "insmod nbd.ko failed: $(tail -n1 "$OUT/logs/insmod-nbd.err")" knbd-c1 knbd-c2
  fi
  for _ in $(seq 50); do [[ -b $NBD_DEV ]] && break; sleep 0.1; done
  [[ -b $NBD_DEV ]] || nbd_na "no $NBD_DEV after loading nbd.ko" knbd-c1 knbd-c2
  for c in knbd-c1 knbd-c2; do use "$c" && DEV[$c]=$NBD_DEV; done
  if any_of knbd-c1 knbd-c2; then
    if knbd_connect knbd-c1; then
      nbd_fill "$NBD_DEV" && nbd_filled=1
    else
      nbd_na "nbd-client failed: $(tail -n1 "$NBD_LOG")" knbd-c1 knbd-c2
    fi
    knbd_disconnect || nbd_na "nbd-client -d left $NBD_DEV connected" knbd-c1 knbd-c2
  fi
fi
# jublk's client: one queue per connection (the export allows multi-conn), depth 128 like the kernel's client,
# 4096-byte blocks like nbd-client -b 4096.
add_jublk jublk-nbd-c1 nbd --socket "$NBD_SOCK" -q 1 -d 128 --logical-block-size "$NBD_BS"
add_jublk jublk-nbd-c2 nbd --socket "$NBD_SOCK" -q 2 -d 128 --logical-block-size "$NBD_BS"
# One connection with zero copy (payloads over 32 KiB go between the socket and the request's own pages), and
# with batch I/O.
add_jublk jublk-nbd-zc-c1 nbd --socket "$NBD_SOCK" -q 1 -d 128 --logical-block-size "$NBD_BS" --zero-copy
add_jublk jublk-nbd-batch-c1 nbd --socket "$NBD_SOCK" -q 1 -d 128 --logical-block-size "$NBD_BS" --batch
add_jublk jublk-nbd-zcb-c1 nbd --socket "$NBD_SOCK" -q 1 -d 128 --logical-block-size "$NBD_BS" --zero-copy --batch
for c in jublk-nbd-c1 jublk-nbd-c2 jublk-nbd-zc-c1 jublk-nbd-batch-c1 jublk-nbd-zcb-c1; do
  ((nbd_filled)) && break
  use "$c" && nbd_fill "${DEV[$c]}" && nbd_filled=1
done
any_of "${NBD_CONTENDERS[@]}" && ((!nbd_filled)) && nbd_na "filling the export failed" "${NBD_CONTENDERS[@]}"
meta nbd_filled "$nbd_filled"

ALL_CONTENDERS=("${RAW_CONTENDERS[@]}" "${NULL_CONTENDERS[@]}" "${NBD_CONTENDERS[@]}")
for c in "${ALL_CONTENDERS[@]}"; do contender_line "$c"; done
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
      local where=(--filename="$target") engine=io_uring
      case $table in
        null) ;;
        # the whole export, with libaio; two jobs (two connections) reported as one
        nbd) engine=libaio where+=(--group_reporting) ;;
        *) where+=(--offset="$RAW_OFF" --size="$RAW_SIZE") ;;
      esac
      fio --name="$wl" "${where[@]}" --ioengine=$engine --direct=1 --time_based --runtime=$T2_RUNTIME \
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

# nbd_cell WORKLOAD CONTENDER ROUND FIO-ARGS...: a cell of the nbd table; the kernel's client is connected for
# the cell alone (nbd-client exits once the device is configured: nothing runs between cells) and
# disconnected after it.
nbd_cell() {
  local wl=$1 c=$2 r=$3
  [[ -n $only && ! "nbd/$wl/$c" =~ $only ]] && return
  if [[ $c == knbd-* ]] && use "$c" && ! knbd_connect "$c"; then
    printf 'nbd\t%s\t%s\t%s\tconnect-failed\t\t\t\t\t0\t%s\n' "$wl" "$c" "$r" "$(tail -n1 "$NBD_LOG")" >>"$OUT/cells.tsv"
    say "  nbd-$wl-$c-r$r: nbd-client failed: $(tail -n1 "$NBD_LOG")"
    knbd_connected && ! knbd_disconnect && nbd_na "nbd-client -d left $NBD_DEV connected" knbd-c1 knbd-c2
    return
  fi
  cell nbd "$@"
  if [[ $c == knbd-* ]] && knbd_connected && ! knbd_disconnect; then
    say "  nbd-client -d left $NBD_DEV connected"
    nbd_na "nbd-client -d left $NBD_DEV connected" knbd-c1 knbd-c2
  fi
}

# rotate N NAMES...: the names, starting at index N mod count (each round starts with another contender).
rotate() {
  local n=$1
  shift
  local a=("$@") i
  for ((i = 0; i < ${#a[@]}; i++)); do echo "${a[(i + n) % ${#a[@]}]}"; done
}

# ---- warm-up: the servers' JIT (and kublk's caches), on the raw region -------------------------------------
say "warm-up: ${WARMUP}s (kublk $((WARMUP / 3))s) of mixed random + sequential I/O per user-space server"
for c in "${ALL_CONTENDERS[@]}"; do
  [[ $c == jublk-* || $c == kublk-* ]] || continue # the user-space servers
  [[ -n ${NA[$c]:-} ]] && continue
  case $c in
    *-null* | jublk-nbd-*) off=() ;; # the whole device
    *) off=(--offset="$RAW_OFF" --size="$RAW_SIZE") ;;
  esac
  # two queues (connections): a job per vCPU, so that both queues' threads run the code being compiled
  (($(queues "$c") == 2)) && off+=(--numjobs=2 --cpus_allowed="$ALL_CPUS" --cpus_allowed_policy=split)
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
    for c in $(rotate $((r - 1)) "${RAW_CONTENDERS[@]}"); do
      args=$(queue_args "$wl" "$(queues "$c")" "$RAW_SIZE_MIB" "${RAW_ARGS[$wl]}") || continue
      # shellcheck disable=SC2086
      cell raw "$wl" "$c" "$r" $args
    done
  done
  say "round $r/$rounds: table 3 (null targets)"
  for wl in "${NULL_WORKLOADS[@]}"; do
    for c in $(rotate $((r - 1)) "${NULL_CONTENDERS[@]}"); do
      args=$(queue_args "$wl" "$(queues "$c")" 0 "${NULL_ARGS[$wl]}") || continue
      # shellcheck disable=SC2086
      cell null "$wl" "$c" "$r" $args
    done
  done
  any_of "${NBD_CONTENDERS[@]}" && say "round $r/$rounds: table 6 (nbd: the kernel's client vs jublk's, one nbdkit)"
  for wl in "${NBD_WORKLOADS[@]}"; do
    for c in $(rotate $((r - 1)) "${NBD_CONTENDERS[@]}"); do
      args=$(nbd_args "$wl" "$(queues "$c")") || continue
      # shellcheck disable=SC2086
      nbd_cell "$wl" "$c" "$r" $args
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
for c in "${ALL_CONTENDERS[@]}"; do
  [[ $c == jublk-* && -n ${DEV[$c]:-} && -b ${DEV[$c]} ]] && ublk del -n "${DEV[$c]#/dev/ublkb}" >>"$OUT/logs/del.log" 2>&1
done
for c in "${ALL_CONTENDERS[@]}"; do
  [[ $c == kublk-* && -n $KUBLK && -n ${DEV[$c]:-} && -b ${DEV[$c]} ]] &&
    "$KUBLK" del -n "${DEV[$c]#/dev/ublkb}" >>"$OUT/logs/del.log" 2>&1
done
for c in kloop-buf kloop-dio; do [[ -n ${DEV[$c]:-} ]] && losetup -d "${DEV[$c]}"; done
lsmod | grep -q '^null_blk' && rmmod null_blk
# nbd: the kernel's client (normally disconnected after every cell), then nbdkit (after jublk's devices are
# gone: their deletion flushes through it), then the module.
if [[ -d /sys/module/nbd ]]; then
  knbd_connected && { knbd_disconnect || say "nbd-client -d failed at teardown"; }
fi
if [[ -s $NBD_PIDF ]]; then
  kill "$(cat "$NBD_PIDF")" 2>/dev/null
  rm -rf "$NBD_RUN"
fi
[[ -d /sys/module/nbd ]] && { rmmod nbd || say "rmmod nbd failed"; }
# Nothing of the run may outlive it: report what did.
left=$(
  for d in /sys/class/ublk-char/ublkc*; do [[ -e $d ]] && printf '%s; ' "${d##*/}"; done
  [[ -d /sys/module/nbd ]] && printf 'nbd.ko loaded; '
  pgrep -x nbdkit >/dev/null && printf 'nbdkit running; '
  losetup -n -l 2>/dev/null | awk '{ printf "%s; ", $1 }'
)
meta left_behind "${left:-nothing}"
[[ -z $left ]] || say "left behind: $left"
umount /mnt/scratch
meta total_seconds $(($(date +%s) - t_start))
say "done"
exit 0
