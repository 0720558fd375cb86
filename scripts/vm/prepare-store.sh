#!/usr/bin/env bash
# prepare-store.sh — fill a minibox state root with the busybox test image, for the VM.
#
#   scripts/vm/prepare-store.sh STORE_DIR
#
# The VM has no network, so images cannot be pulled inside it. Instead, on the host: build the
# offline busybox image (scripts/build-busybox-image.sh), serve it from a real registry on
# 127.0.0.1 (docker-registry), `minibox --root STORE_DIR pull` it — the real pull path — and tag
# it `busybox`. build-initramfs.sh copies STORE_DIR into the initramfs at /minibox-store.
# Stops the registry it started (by PID) and removes its temporary files.
set -euo pipefail
store=${1:?usage: prepare-store.sh STORE_DIR}
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
registry=
cleanup() {
  if [ -n "$registry" ]; then
    kill "$registry" 2>/dev/null || true
    wait "$registry" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

bash "$repo/scripts/build-busybox-image.sh" "$work/layout" latest >/dev/null
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
cat > "$work/registry.yml" <<YAML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$port}
YAML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
  sleep 0.1
done
skopeo copy --quiet --dest-tls-verify=false "oci:$work/layout:latest" "docker://127.0.0.1:$port/busybox:latest"
rm -rf "$store"
mkdir -p "$store"
"$repo/bin/minibox" --root "$store" pull -q "127.0.0.1:$port/busybox:latest" >/dev/null
"$repo/bin/minibox" --root "$store" tag "127.0.0.1:$port/busybox:latest" busybox:latest
"$repo/bin/minibox" --root "$store" rmi "127.0.0.1:$port/busybox:latest" >/dev/null
"$repo/bin/minibox" --root "$store" images
