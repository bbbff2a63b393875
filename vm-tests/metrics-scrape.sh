#!/bin/bash
# The guest half of the Prometheus scrape test (src/test/java/io/jublk/metrics/PrometheusScrapeIT.java): a
# loop device with --metrics-port, fio with exactly known request counts, and a handshake with the host
# through files in the out share. Not run on its own by VmScenariosIT (it waits for the host), so no vm-test
# line. By hand:
#
#   vm-tests/run --hostfwd 19464:9464 --out /tmp/mx metrics-scrape.sh 9464 [go]
#   # then, on the host: curl 127.0.0.1:19464/metrics; [touch /tmp/mx/go;] ... touch /tmp/mx/done
#
# Arguments: GUEST_PORT (default 9464); "go" to wait for $JUBLK_OUT/go before the fio jobs (the host writes
# it once Prometheus scrapes the device, so the I/O lands in rate() windows).
#
# Files in $JUBLK_OUT, written by this script:
#   device     the device id (as in the metrics' device label)
#   added      the device is up and its baseline is in `expected`; waits for `go` next if asked to
#   expected   key=value lines: baseline_* (the counters after add settled: partition scan etc.), fio_* (what
#              fio did), want_* (baseline + fio: what the counters must show now), port
#   ready      fio is done and `expected` is complete: the host checks now
#   metrics-*.txt  expositions scraped in the guest (after add, after fio)
# written by the host: go, done (the device is deleted and the scenario ends once `done` exists).
. "$(dirname "$0")/lib/scenario.sh"

port=${1:-9464}
wait_go=${2:-}
outdir=${JUBLK_OUT:?no out share}
timeout=${JUBLK_METRICS_WAIT:-600}
bs=4096
n_read=${JUBLK_METRICS_READS:-2000}
n_write=${JUBLK_METRICS_WRITES:-1000}
n_fsync=${JUBLK_METRICS_FSYNCS:-200}

rm -f "$outdir"/{device,added,expected,ready} "$outdir"/metrics-*.txt

# wait_file FILE: wait up to $timeout s for the host to create FILE.
wait_file() {
  local waited=0
  until [[ -e $outdir/$1 ]]; do
    ((waited < timeout)) || return 1
    sleep 1
    waited=$((waited + 1))
  done
}

# scrape: the exposition, on stdout. Patient: under TCG (more so with other VMs on the host) a cold JVM's
# first scrapes take many seconds, and Prometheus' own scrapes through the forward compete with ours.
scrape() {
  local try
  for try in 1 2 3; do
    curl -sSf --max-time 90 "http://127.0.0.1:$port/metrics" 2>"$outdir/curl.err" && return 0
    echo "     # scrape $try failed: $(cat "$outdir/curl.err")" >&2
    sleep 2
  done
  return 1
}

# sum_of FILE METRIC [LABEL=VALUE]: the sum over this device's series of METRIC in exposition FILE, as an
# integer (Micrometer writes counters as doubles: 611.0, 2.68435456E8).
sum_of() {
  awk -v m="$1{" -v dev="device=\"$id\"" -v want="${3:+${3%%=*}=\"${3#*=}\"}" '
    index($0, m) == 1 && index($0, dev) && (want == "" || index($0, want)) { s += $NF }
    END { printf "%.0f\n", s }' "$2"
}

# counters FILE: the five counters this test checks, as "read write flush read_bytes write_bytes".
counters() {
  echo "$(sum_of ublk_requests_total "$1" op=read) $(sum_of ublk_requests_total "$1" op=write)" \
    "$(sum_of ublk_requests_total "$1" op=flush) $(sum_of ublk_io_bytes_total "$1" op=read)" \
    "$(sum_of ublk_io_bytes_total "$1" op=write)"
}

# settle NAME: scrape until two scrapes 2 s apart show the same counters (whatever the kernel still does on
# its own has ended); leaves the last one in $outdir/metrics-NAME.txt.
settle() {
  local f=$outdir/metrics-$1.txt prev="" now i
  for ((i = 0; i < 30; i++)); do
    scrape >"$f" || { fail "scrape of 127.0.0.1:$port failed"; return 1; }
    now=$(counters "$f")
    [[ $now == "$prev" ]] && return 0
    prev=$now
    sleep 2
  done
  fail "the counters did not settle: $now"
  return 1
}

truncate -s 256M /tmp/metrics-backing.img
started=$SECONDS
dev=$(add_device loop --file /tmp/metrics-backing.img --queues 2 \
  --metrics-port "$port" --metrics-address 0.0.0.0) || finish
id=$(dev_id "$dev")
info "device $dev, metrics on port $port (ublk add took $((SECONDS - started)) s)"
echo "$id" >"$outdir/device"

# Every metric name the dashboard uses must be in the exposition (the host checks the PromQL itself).
started=$SECONDS
m=$(scrape) || { fail "curl 127.0.0.1:$port/metrics"; finish; }
ok "curl 127.0.0.1:$port/metrics ($(wc -l <<<"$m") lines, $((SECONDS - started)) s)"
for name in ublk_requests_total ublk_request_failures_total ublk_io_bytes_total ublk_inflight_requests \
  ublk_backend_inflight_operations ublk_device_size_bytes ublk_device_info ublk_request_duration_seconds_bucket \
  ublk_backend_duration_seconds_bucket ublk_errors_total jvm_memory_used_bytes process_cpu_seconds_total; do
  if [[ $name == ublk_* ]]; then
    check "exposition has $name{device=\"$id\"}" grep -q "^$name{.*device=\"$id\"" <<<"$m"
  else
    check "exposition has $name" grep -q "^${name}[ {]" <<<"$m"
  fi
done
if command -v promtool >/dev/null; then
  check "promtool check metrics: no naming-convention problems" promtool check metrics <<<"$m"
fi
if [[ -n ${JUBLK_VM_HOSTFWD:-} ]]; then
  check "served on 10.0.2.15 too (what the host's forward reaches)" \
    curl -sf --max-time 90 -o /dev/null "http://10.0.2.15:$port/metrics"
fi

# A young JVM may not have collected yet, and Micrometer shows jvm_gc_pause_seconds only after a first GC.
pid=$(daemon_pid "$id")
started=$SECONDS
check "jcmd GC.run in the daemon ($pid), for the GC pause series" jcmd "$pid" GC.run
info "jcmd took $((SECONDS - started)) s"

settle baseline || finish
info "counters settled $((SECONDS - started)) s after jcmd started"
read -r b_read b_write b_flush b_rbytes b_wbytes < <(counters "$outdir/metrics-baseline.txt")
info "baseline after add: reads $b_read, writes $b_write, flushes $b_flush, bytes $b_rbytes/$b_wbytes"
{
  echo "device=$id"
  echo "port=$port"
  echo "baseline_read=$b_read"
  echo "baseline_write=$b_write"
  echo "baseline_flush=$b_flush"
  echo "baseline_read_bytes=$b_rbytes"
  echo "baseline_write_bytes=$b_wbytes"
} >"$outdir/expected"
touch "$outdir/added"

if [[ $wait_go == go ]]; then
  info "waiting for the host to write go (up to ${timeout}s)"
  wait_file go || { fail "no go from the host within ${timeout}s"; finish; }
fi
started=$SECONDS

# 4 KiB random direct I/O, one at a time (psync): nothing to merge with and nothing to split, so each fio
# I/O is exactly one ublk request. The random map keeps every block to one visit.
fio_job() {
  local name=$1
  shift
  fio --name="$name" --filename="$dev" --ioengine=psync --direct=1 --bs=$bs --size=128M "$@" \
    --output-format=json --output="$outdir/fio-$name.json" >/dev/null 2>"$outdir/fio-$name.err" &&
    jq -e '.jobs[0].error == 0' "$outdir/fio-$name.json" >/dev/null
}
check "fio: $n_read random 4k direct reads" fio_job read --rw=randread --number_ios="$n_read"
check "fio: $n_write random 4k direct writes" fio_job write --rw=randwrite --number_ios="$n_write"
check "fio: $n_fsync random 4k direct writes, each followed by fsync" fio_job fsync --rw=randwrite \
  --number_ios="$n_fsync" --fsync=1
((SCENARIO_FAILED == 0)) || finish
# fio's own tally: what it did, not what it was asked for (e.g. it skips the fsync after its last write).
fio_count() { jq -r "[.jobs[0].$2] | add" "$outdir/fio-$1.json"; }
f_read=$(fio_count read read.total_ios)
f_write=$(($(fio_count write write.total_ios) + $(fio_count fsync write.total_ios)))
f_flush=$(fio_count fsync sync.total_ios)
f_rbytes=$(fio_count read read.io_bytes)
f_wbytes=$(($(fio_count write write.io_bytes) + $(fio_count fsync write.io_bytes)))
info "fio took $((SECONDS - started)) s and did: reads $f_read, writes $f_write, fsyncs $f_flush, bytes $f_rbytes/$f_wbytes"
expect_eq "fio reads" "$n_read" "$f_read"
expect_eq "fio writes" "$((n_write + n_fsync))" "$f_write"
expect_eq "fio read bytes" "$((n_read * bs))" "$f_rbytes"
expect_eq "fio write bytes" "$(((n_write + n_fsync) * bs))" "$f_wbytes"

{
  echo "fio_read=$f_read"
  echo "fio_write=$f_write"
  echo "fio_flush=$f_flush"
  echo "fio_read_bytes=$f_rbytes"
  echo "fio_write_bytes=$f_wbytes"
  echo "want_read=$((b_read + f_read))"
  echo "want_write=$((b_write + f_write))"
  echo "want_flush=$((b_flush + f_flush))"
  echo "want_read_bytes=$((b_rbytes + f_rbytes))"
  echo "want_write_bytes=$((b_wbytes + f_wbytes))"
} >>"$outdir/expected"

# The same check the host makes through Prometheus, here on the endpoint itself.
if settle after-fio; then
  read -r a_read a_write a_flush a_rbytes a_wbytes < <(counters "$outdir/metrics-after-fio.txt")
  expect_eq "read requests: baseline $b_read + fio" "$((b_read + f_read))" "$a_read"
  expect_eq "write requests: baseline $b_write + fio" "$((b_write + f_write))" "$a_write"
  expect_eq "flush requests: baseline $b_flush + fio's fsyncs" "$((b_flush + f_flush))" "$a_flush"
  expect_eq "read bytes" "$((b_rbytes + f_rbytes))" "$a_rbytes"
  expect_eq "write bytes" "$((b_wbytes + f_wbytes))" "$a_wbytes"
  expect_eq "failed requests" 0 "$(sum_of ublk_request_failures_total "$outdir/metrics-after-fio.txt")"
fi

touch "$outdir/ready"
info "ready; waiting for the host to write done (up to ${timeout}s)"
wait_file "done" || fail "no done from the host within ${timeout}s"

check "ublk del -n $id" ublk del -n "$id"
check "$dev is gone" test ! -e "$dev"
check "the metrics port is closed" sh -c "! curl -s --max-time 5 -o /dev/null http://127.0.0.1:$port/metrics"
finish
