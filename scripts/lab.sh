#!/usr/bin/env bash
# lab.sh — the offline lab for the lessons (docs/lessons/): no internet needed.
#
#   scripts/lab.sh up       build the lab images into your state root ($MINIBOX_ROOT or
#                           /var/lib/minibox) with `minibox lesson setup`, start a registry with a
#                           login on 127.0.0.1:$LAB_PORT (default 5055), and push the lab images to it
#   scripts/lab.sh status   is the registry up, and what does it hold
#   scripts/lab.sh down     stop the registry and delete its data (your images stay)
#
# The registry is the CNCF distribution registry (`docker-registry`, apt), with htpasswd auth:
# user "student", password "lab-password" (lessons 7 and 8 log in with them). The lab also pushes
# lab/arm64:1: a busybox image whose config says architecture arm64 (made with umoci, as
# scripts/build-busybox-image.sh does; pushed with skopeo), for lesson 12's question of platforms.
# State: $MINIBOX_LAB (default /var/tmp/minibox-lab): registry.yml, htpasswd, data/, registry.pid.
# Its own pushes use a Docker config of their own ($MINIBOX_LAB/docker): yours is not touched.
set -euo pipefail
cd "$(dirname "$0")/.."
lab=${MINIBOX_LAB:-/var/tmp/minibox-lab}
port=${LAB_PORT:-5055}
user=student
password=lab-password
host=127.0.0.1:$port
minibox() { node bin/minibox "$@"; }

running() { [ -f "$lab/registry.pid" ] && kill -0 "$(cat "$lab/registry.pid")" 2>/dev/null; }

start_registry() {
  mkdir -p "$lab/data"
  htpasswd -Bbn "$user" "$password" > "$lab/htpasswd"
  cat > "$lab/registry.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $lab/data}, delete: {enabled: true}}
http: {addr: $host}
auth: {htpasswd: {realm: minibox-lab, path: $lab/htpasswd}}
YAML
  docker-registry serve "$lab/registry.yml" > "$lab/registry.log" 2>&1 &
  echo $! > "$lab/registry.pid"
  for _ in $(seq 100); do
    # 401 = up and asking for a login
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$host/v2/")" = 401 ] && return 0
    running || break
    sleep 0.1
  done
  echo "lab: the registry did not start on $host (see $lab/registry.log; LAB_PORT=… for another port)" >&2
  exit 1
}

push_images() {
  export DOCKER_CONFIG=$lab/docker
  echo "$password" | minibox login -u "$user" --password-stdin "$host" >/dev/null
  for image in lab/base:1 lab/web:1 lab/web:2; do
    minibox tag "$image" "$host/$image"
    minibox push -q "$host/$image" >/dev/null
    minibox rmi "$host/$image" >/dev/null
    echo "lab: pushed $host/$image"
  done
  local work
  work=$(mktemp -d)
  scripts/build-busybox-image.sh "$work/layout" 1 >/dev/null
  umoci config --image "$work/layout:1" --architecture arm64 --config.cmd sh
  skopeo copy -q --dest-tls-verify=false --dest-creds "$user:$password" "oci:$work/layout:1" "docker://$host/lab/arm64:1"
  rm -rf "$work"
  echo "lab: pushed $host/lab/arm64:1 (its config says linux/arm64)"
}

case "${1:-}" in
  up)
    if running; then echo "lab: already up on $host"; exit 0; fi
    mkdir -p "$lab"
    minibox lesson setup
    start_registry
    push_images
    echo "lab: up — registry $host (login: $user / $password); try: minibox lesson list"
    ;;
  status)
    if running; then
      echo "lab: registry up on $host (pid $(cat "$lab/registry.pid"))"
      curl -s -u "$user:$password" "http://$host/v2/_catalog"; echo
    else
      echo "lab: down"; exit 1
    fi
    ;;
  down)
    if running; then
      pid=$(cat "$lab/registry.pid")
      kill "$pid"
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$lab"
    echo "lab: down"
    ;;
  *) echo "usage: scripts/lab.sh up|status|down" >&2; exit 2 ;;
esac
