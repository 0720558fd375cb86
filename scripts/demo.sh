#!/usr/bin/env bash
# demo.sh — minibox end to end, offline: a local registry, a busybox image built from the host's
# busybox-static, `minibox pull`, `images`, `history`, and a container showing its isolation.
# Run after scripts/provision.sh, as root.
set -euo pipefail
cd "$(dirname "$0")/.."
minibox=./bin/minibox
work=$(mktemp -d /tmp/minibox-demo.XXXXXX)
registry_pid=
cleanup() {
  if [ -n "$registry_pid" ]; then
    kill "$registry_pid" 2>/dev/null || true
    wait "$registry_pid" 2>/dev/null || true # the registry's SIGTERM status is not the demo's
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
cat > "$work/registry.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$port}
YAML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.1; done

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
image=127.0.0.1:$port/demo/busybox:latest

echo "== building an image from the host's busybox and pushing it to a local registry at 127.0.0.1:$port"
scripts/build-busybox-image.sh "$work/layout" latest
skopeo copy --quiet --dest-tls-verify=false "oci:$work/layout:latest" "docker://$image"

step minibox pull "$image"
$minibox pull "$image"
step minibox images
$minibox images
step minibox history "$image"
$minibox history "$image"
step "minibox image inspect $image | head -12"
$minibox image inspect "$image" | head -12
if $minibox run --help >/dev/null 2>&1; then
  echo
  echo "On the host: hostname $(hostname), $(ls -d /proc/[0-9]* | wc -l) processes, / holds: $(ls / | tr '\n' ' ')"
  step minibox run --rm "$image" sh -c '…'
  kept=${MINIBOX_ROOT:-/var/lib/minibox}/networks/bridge/kept.json
  was_kept=no; [ ! -e "$kept" ] || was_kept=yes
  $minibox run --rm "$image" sh -c 'echo "PID inside: $$"; echo "hostname: $(hostname)"; echo "processes:"; ps; echo "root:"; ls /'
  # The default bridge, its rules and ip_forward stay up between containers, as docker0 does
  # (src/network/kept-bridge.ts). The demo made them: it leaves the host as it found it.
  if [ "$was_kept" = no ] && [ -e "$kept" ]; then
    echo
    echo "The default bridge stays up for the next container, as docker0 does; the demo made it, so it takes it down:"
    step minibox network prune -f
    $minibox network prune -f
  fi
fi
echo
# `minibox` is on PATH only after `npm install -g .`: name the command that works now.
echo "Done. The image stays in ${MINIBOX_ROOT:-/var/lib/minibox}; remove it with: $minibox rmi $image"
echo "(to type plain \`minibox\` instead of $minibox, run: npm install -g .)"
