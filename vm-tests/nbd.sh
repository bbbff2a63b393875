#!/bin/bash
# The nbd target against real NBD servers in the guest, over Unix sockets and TCP on 127.0.0.1:
#  * nbdkit's memory plugin (behind its delay and error filters), two queues on two connections (it allows
#    multi-conn): fio verify at 4k, 64k and 1M; reads the error
#    filter fails get EIO and nothing else does; the delay shows in the backend latency histogram.
#  * nbdkit's file plugin, with --zero-copy: mkfs.ext4, a tree copied in and compared, e2fsck clean; nbdkit killed and restarted in
#    the middle of a fio verify, which finishes without an error (the reconnect is counted); the daemon killed and
#    `ublk recover` connects again from the record and serves the same data; blkdiscard leaves holes in the
#    exported file.
#  * qemu-nbd serving a qcow2 image on 127.0.0.1:10809: fio verify, ext4 + tree + e2fsck; `qemu-img check` clean afterwards.
#  * TLS: nbdkit on 127.0.0.1 with --tls=require and a test CA: refused without --tls; with --tls-ca a fio
#    verify, a daemon killed and recovered over TLS from the record. (Trust and name failures: NbdTargetTest.)
#  * bad input at `ublk add`: no server, another protocol on the socket, an export the server does not have.
# vm-test: --timeout 900
# vm-test-seconds: 480
. "$(dirname "$0")/lib/scenario.sh"
w=/tmp/nbd
mkdir -p $w
info "$(nbdkit --version), $(qemu-nbd --version | head -n1)"

# mcount NAME LABEL_FILTER: the sum of a metric's series in the exposition at $w/metrics.txt.
scrape() { curl -sSf --max-time 60 "http://127.0.0.1:$1/metrics" >$w/metrics.txt; }
msum() { awk -v m="$1" -v f="$2" 'index($0, m) == 1 && index($0, f) { s += $NF } END { printf "%.6f\n", s }' $w/metrics.txt; }

fio_verify() { # DEV BS SIZE NAME [extra fio args]
  local dev=$1 bs=$2 size=$3 name=$4
  shift 4
  fio --name="$name" --filename="$dev" --ioengine=io_uring --direct=1 --rw=randwrite --bs="$bs" --iodepth=16 \
    --size="$size" --verify=crc32c --verify_fatal=1 --do_verify=1 --randrepeat=0 --output-format=terse "$@" \
    >$w/fio-"$name".out 2>&1
}

ext4_tree() { # DEV: mkfs, the repository's sources copied in, compared after a remount, e2fsck clean
  local dev=$1
  mkfs.ext4 -q -F "$dev" && mkdir -p $w/mnt && mount "$dev" $w/mnt && cp -a src/main $w/mnt/ && umount $w/mnt &&
    mount "$dev" $w/mnt && diff -r src/main $w/mnt/main && umount $w/mnt && e2fsck -fn "$dev" >$w/fsck.out 2>&1
}

# ---- bad input: one line, nothing left behind ---------------------------------------------------------------
expect_fail "add nbd with no server at the socket" ublk add nbd --socket $w/none.sock
python3 - $w/ssh.sock <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(4)
while True:
    c, _ = s.accept(); c.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"); c.close()
EOF
ssh_pid=$!
for _ in $(seq 50); do [[ -S $w/ssh.sock ]] && break; sleep 0.1; done
expect_fail "add nbd with another protocol on the socket" ublk add nbd --socket $w/ssh.sock
kill $ssh_pid
nbdkit -U $w/named.sock -P $w/named.pid --filter=exportname memory 16M exportname-strict=true exportname=disk
expect_fail "add nbd of an export the server does not have" ublk add nbd --socket $w/named.sock --export other
kill "$(cat $w/named.pid)"
expect_eq "no device was left behind" "" "$(ublk_ids)"

# ---- nbdkit memory, behind the error and delay filters --------------------------------------------------------
nbdkit -U $w/mem.sock -P $w/mem.pid --filter=error --filter=delay memory 256M delay-read=5ms \
  error-pread=EIO error-pread-rate=100% error-pread-file=$w/fail-reads
dev=$(add_device nbd --socket $w/mem.sock --metrics-port 9471 -q 2) || finish
info "memory plugin: $dev"
expect_eq "two hardware queues (one connection each)" 2 "$(ls /sys/block/"${dev#/dev/}"/mq | wc -l)"
for bs in 4k 64k 1M; do
  check "nbdkit memory: fio --verify=crc32c at $bs" fio_verify "$dev" $bs 16M mem-$bs --offset=32M
done
scrape 9471
r0=$(msum ublk_backend_duration_seconds_sum 'device="') n0=$(msum ublk_backend_duration_seconds_count 'device="')
dd if="$dev" of=/dev/null bs=4k count=50 iflag=direct status=none
scrape 9471
r1=$(msum ublk_backend_duration_seconds_sum 'device="') n1=$(msum ublk_backend_duration_seconds_count 'device="')
mean=$(awk -v a="$r0" -v b="$r1" -v c="$n0" -v d="$n1" 'BEGIN { if (d > c) printf "%.4f", (b - a) / (d - c); else print "none" }')
check "the delay filter's 5 ms per read shows in the backend latency ($mean s per read)" \
  awk -v m="$mean" 'BEGIN { exit !(m != "none" && m >= 0.005) }'
touch $w/fail-reads
check "with the error filter failing reads: a read gets EIO" \
  sh -c "! dd if=$dev of=/dev/null bs=4k count=1 skip=7 iflag=direct status=none 2>$w/dd.err && grep -q 'Input/output error' $w/dd.err"
check "... and a write succeeds meanwhile" dd if=/dev/urandom of="$dev" bs=4k count=4 seek=100 oflag=direct status=none
rm $w/fail-reads
check "the error gone, reads succeed again" dd if="$dev" of=/dev/null bs=64k count=16 iflag=direct status=none
scrape 9471
expect_eq "no protocol error was counted" 0.000000 "$(msum ublk_target_events_total 'event="protocol_errors"')"
info "$SECONDS s"

# ---- nbdkit file: ext4, a restart during fio verify, discard -------------------------------------------------
truncate -s 256M $w/export.img
file_server() { nbdkit -U $w/file.sock -P $w/file.pid file $w/export.img; }
file_server
# --zero-copy (7.3): large payloads between the socket and the requests' own pages, small ones copied through the
# char device; the memory, TLS and qemu-nbd devices copy, so both paths see ext4, a restart, a recover.
dev=$(add_device nbd --socket $w/file.sock --metrics-port 9472 --recovery --zero-copy) || finish
ublk list -n "$(dev_id "$dev")" --json >$w/list.json
check "the device has zero copy (AUTO_BUF_REG and USER_COPY)" \
  sh -c "grep -q '\"zero_copy\" *: *true' $w/list.json && grep -q USER_COPY $w/list.json"
check "nbdkit file: mkfs.ext4, a tree copied in and compared after a remount, e2fsck -fn clean" ext4_tree "$dev"
fio_verify "$dev" 64k 64M restart --offset=128M --numjobs=1 --bssplit=4k/20:64k/40:1m/40 &
fio_pid=$!
sleep 3
check "fio is still writing when nbdkit is killed" kill -0 $fio_pid
kill -9 "$(cat $w/file.pid)"
rm -f $w/file.sock
sleep 2
file_server
info "nbdkit restarted"
if wait $fio_pid; then ok "fio --verify across the nbdkit restart finished with no error"
else fail "fio across the restart: $(tail -n 5 $w/fio-restart.out)"; fi
scrape 9472
check "the reconnect was counted ($(msum ublk_target_events_total 'event="reconnects"'))" \
  awk -v n="$(msum ublk_target_events_total 'event="reconnects"')" 'BEGIN { exit !(n >= 1) }'
id=$(dev_id "$dev")
kill -9 "$(state_pid "$id")"
check "ublk recover of the nbd device after its daemon was killed" ublk recover -n "$id"
drop_caches
check "... serves the export's data (the 64 MiB fio wrote)" \
  cmp <(dd if="$dev" bs=1M skip=128 count=64 iflag=direct status=none) <(dd if=$w/export.img bs=1M skip=128 count=64 status=none)
info "$SECONDS s"
before=$(stat -c %b $w/export.img)
check "blkdiscard of the whole device" blkdiscard "$dev"
check "... left holes in the exported file ($before -> $(stat -c %b $w/export.img) blocks)" \
  test "$(stat -c %b $w/export.img)" -lt $((before / 10))
info "$SECONDS s"

# ---- TLS: nbdkit on 127.0.0.1 requiring it, the certificate checked against the host's address --------------
pki=$w/pki
mkdir -p $pki
( cd $pki &&
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=jublk-test-ca \
    -keyout ca-key.pem -out ca-cert.pem &&
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost -keyout server-key.pem \
    -out server.csr &&
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext &&
  openssl x509 -req -in server.csr -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial -days 2 -extfile server.ext \
    -out server-cert.pem ) >$w/openssl.out 2>&1 || fail "making test certificates: $(tail -n 3 $w/openssl.out)"
truncate -s 64M $w/tls.img
tls_server() { nbdkit -i 127.0.0.1 -p 10810 -P $w/tls.pid --tls=require --tls-certificates=$pki file $w/tls.img; }
tls_server
expect_fail "add nbd without --tls to a server that requires it" ublk add nbd --host 127.0.0.1 --port 10810
dev=$(add_device nbd --host 127.0.0.1 --port 10810 --tls-ca $pki/ca-cert.pem --recovery) || finish
check "nbd over TLS: fio --verify=crc32c at 64k" fio_verify "$dev" 64k 32M tls-64k
id=$(dev_id "$dev")
kill -9 "$(state_pid "$id")"
check "ublk recover of the TLS device (the record keeps --tls-ca)" ublk recover -n "$id"
drop_caches
check "... serves the export's data over TLS" \
  cmp <(dd if="$dev" bs=1M count=32 iflag=direct status=none) <(dd if=$w/tls.img bs=1M count=32 status=none)
check "ublk del of the TLS device" ublk del -n "$id"
kill "$(cat $w/tls.pid)"
info "$SECONDS s"

# ---- qemu-nbd, qcow2 ---------------------------------------------------------------------------------------
qemu-img create -q -f qcow2 $w/d.qcow2 256M
qemu-nbd --fork --persistent -b 127.0.0.1 -p 10809 -f qcow2 --pid-file=$w/q.pid $w/d.qcow2
dev=$(add_device nbd --host 127.0.0.1) || finish
check "qemu-nbd qcow2: fio --verify=crc32c at 64k" fio_verify "$dev" 64k 32M q-64k --offset=160M
check "qemu-nbd qcow2: mkfs.ext4, a tree copied in and compared after a remount, e2fsck -fn clean" ext4_tree "$dev"
check "ublk del --all (the three devices)" ublk del --all
expect_eq "no device is left" "" "$(ublk_ids)"
kill "$(cat $w/q.pid)" "$(cat $w/file.pid)" "$(cat $w/mem.pid)"
for _ in $(seq 50); do kill -0 "$(cat $w/q.pid)" 2>/dev/null || break; sleep 0.1; done
check "qemu-img check of the image is clean" qemu-img check -q $w/d.qcow2
info "$SECONDS s"
finish
