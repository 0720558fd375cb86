#!/usr/bin/env bash
# run-tests.sh — boot the test VM and run the VM test files inside it (npm run test:vm).
#
#   scripts/vm/run-tests.sh [test/vm/FILE.test.ts …]     (default: all of test/vm)
#
# Why a VM: resource limits need cgroup v2 with its controllers, and the development and CI
# machines have hybrid cgroups (v1 controllers, an empty v2 tree) that minibox must never write
# to. A qemu guest with Debian's kernel mounts its own cgroup2 tree with every controller.
# qemu runs with TCG (pure emulation): /dev/kvm exists on these machines but guests hang on it.
#
# The guest's serial console is streamed here; the guest's /init prints MINIBOX_VM_EXIT=<code>
# after the tests, and that code is this script's exit code. If the guest does not finish within
# MINIBOX_VM_TIMEOUT seconds (default 1200), the qemu process this script started is killed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
timeout_s=${MINIBOX_VM_TIMEOUT:-1200}
memory=${MINIBOX_VM_MEMORY:-2G}

command -v qemu-system-x86_64 >/dev/null || { echo "test:vm: qemu-system-x86_64 missing (bash scripts/provision.sh installs it)" >&2; exit 1; }
kernel=$(bash scripts/vm/kernel.sh)
[ -d dist ] || npm run build --silent
initramfs=$(bash scripts/vm/build-initramfs.sh)

tests=$(IFS=,; echo "$*")
append="console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init${tests:+ minibox.tests=$tests}"
log="$repo/.cache/vm/console.log"
echo "test:vm: booting $(basename "$kernel") with $(basename "$initramfs") ($(du -h "$initramfs" | cut -f1)), TCG, $memory, 2 CPUs"

started=$(date +%s)
qemu-system-x86_64 -accel tcg -cpu max -m "$memory" -smp 2 \
  -kernel "$kernel" -initrd "$initramfs" -append "$append" \
  -nographic -monitor none -no-reboot -nic none </dev/null >"$log" 2>&1 &
qemu=$!

# Stream the console as it arrives (tail stops by itself when qemu exits).
tail -n +1 -f --pid="$qemu" "$log" | tr -d '\r' &
streamer=$!

# Watch the clock in this shell (no extra background process to clean up).
while kill -0 "$qemu" 2>/dev/null; do
  if [ $(( $(date +%s) - started )) -ge "$timeout_s" ]; then
    echo "test:vm: timed out after ${timeout_s}s; stopping qemu (pid $qemu)" >&2
    kill "$qemu" 2>/dev/null || true
    break
  fi
  sleep 1
done
status=0
wait "$qemu" || status=$?
wait "$streamer" 2>/dev/null || true

code=$(tr -d '\r' < "$log" | sed -n 's/.*MINIBOX_VM_EXIT=\([0-9][0-9]*\).*/\1/p' | tail -n 1)
echo "test:vm: guest finished in $(( $(date +%s) - started ))s (qemu exit $status)"
if [ -z "$code" ]; then
  echo "test:vm: the guest never reported a result (see $log)" >&2
  exit 1
fi
exit "$code"
