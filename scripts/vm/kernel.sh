#!/usr/bin/env bash
# kernel.sh — print the path of the kernel the VM boots: Debian's linux-image-amd64 (6.1 on
# Debian 12), never assumed to be the host's running kernel (a CI host may run its own).
# Override with MINIBOX_VM_KERNEL=/boot/vmlinuz-… .
set -euo pipefail
if [ -n "${MINIBOX_VM_KERNEL:-}" ]; then echo "$MINIBOX_VM_KERNEL"; exit 0; fi
kernel=$(ls -1 /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$kernel" ] || { echo "kernel.sh: no /boot/vmlinuz-*-amd64 (apt-get install linux-image-amd64)" >&2; exit 1; }
echo "$kernel"
