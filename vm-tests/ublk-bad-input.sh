#!/bin/bash
# Bad input to `ublk add`/`del`: one clear line on stderr, non-zero exit, and nothing left behind.
# vm-test:
# vm-test-seconds: 150
. "$(dirname "$0")/lib/scenario.sh"

before=$(ublk_ids | wc -l)
expect_fail "size 0" ublk add null --size 0
expect_fail "size not a multiple of the block size" ublk add null --size 1000
expect_fail "size not a multiple of 4096" ublk add null --size 6K --logical-block-size 4096
expect_fail "garbage size" ublk add null --size lots
expect_fail "queues 0" ublk add null --size 1G -q 0
expect_fail "depth 0" ublk add null --size 1G -d 0
expect_fail "depth 5000" ublk add null --size 1G -d 5000
expect_fail "block size 1024" ublk add null --size 1G --logical-block-size 1024
expect_fail "unknown target" ublk add nosuch --size 1G
expect_fail "no target" ublk add
dev=$(add_device null --size 64M) || finish
id=$(dev_id "$dev")
expect_fail "id $id already in use" ublk add null --size 64M -n "$id"
expect_fail "del of a device that does not exist" ublk del -n 999
expect_fail "list of a device that does not exist" ublk list -n 999
ublk del -n "$id"
expect_eq "no device left behind" "$before" "$(ublk_ids | wc -l)"
check "no ublk process left" test -z "$(ublk_procs)"
check "no daemon log left for refused input" sh -c '! ls /run/jublk/daemon-*.log 2>/dev/null'
finish
