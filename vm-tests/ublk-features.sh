#!/bin/bash
# `ublk features` decodes the kernel's feature mask into the UBLK_F_* names (text and JSON).
# vm-test:
# vm-test-seconds: 35
. "$(dirname "$0")/lib/scenario.sh"

out=$(ublk features)
echo "$out" | sed 's/^/     | /'
for f in USER_RECOVERY USER_RECOVERY_REISSUE USER_COPY UPDATE_SIZE AUTO_BUF_REG QUIESCE PER_IO_DAEMON \
  CMD_IOCTL_ENCODE SUPPORT_ZERO_COPY; do
  check "features lists $f" grep -qw "$f" <<<"$out"
done
check "the 7.3 mask is 0x1fffff" grep -q "feature mask 0x1fffff" <<<"$out"
json=$(ublk features --json)
check "--json has the mask" grep -q '"mask":"0x1fffff"' <<<"$json"
check "--json lists USER_RECOVERY" grep -q '"USER_RECOVERY"' <<<"$json"
finish
