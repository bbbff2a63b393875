# shellcheck shell=bash
# Helpers shared by the host-side scripts of the VM test harness (run,
# fetch-kernel, mkinitramfs, ensure-deps). Sourced, never executed.

# Everything downloaded or built once (kernel debs, extracted kernel and
# modules, initramfs images) lives here so that later runs are offline.
JUBLK_CACHE="${JUBLK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jublk}"

# Which kernel series to use. Debian's trixie-backports ships it with ublk as
# a module; the host kernel has no ublk at all.
JUBLK_KERNEL_SERIES="${JUBLK_KERNEL_SERIES:-7.3}"

# Messages go to stderr: several helpers print their result (a path) on stdout.
vm_log() { printf 'jublk-vm: %s\n' "$*" >&2; }
vm_die() { printf 'jublk-vm: ERROR: %s\n' "$*" >&2; exit "${VM_DIE_STATUS:-127}"; }
