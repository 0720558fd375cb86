#!/usr/bin/env bash
# oci-runtime-tools.sh — build the OCI runtime conformance suite (opencontainers/runtime-tools) and
# run its validation programs against a runtime.
#
#   bash scripts/oci-runtime-tools.sh build            → prints the built source dir (cached)
#   bash scripts/oci-runtime-tools.sh run RUNTIME [TEST…]
#        runs validation/TEST/TEST.t (default: all 58) with RUNTIME=RUNTIME from the source root and
#        prints one line per test: `TEST ok=N notok=M rc=R`, then a summary line. `prove` chokes on
#        the suite's YAMLish output here, so each .t program is run directly and its TAP counted.
#
# Where the suite comes from, first found wins:
#   $MINIBOX_RUNTIME_TOOLS_SRC   a checkout of github.com/opencontainers/runtime-tools (commit 260e151)
#   $MINIBOX_RUNTIME_TOOLS_TAR   a `git archive` tarball of it
#   ../shared/third_party/runtime-tools-260e151.tar.gz (next to the checkout or, from a git
#                                worktree, next to the main checkout — as on CI)
# Commit 260e151 is the last whose go.mod asks for Go 1.19 (Debian 12's golang-go); it vendors its
# dependencies, so the build is offline (GOFLAGS=-mod=vendor GOPROXY=off). Built once into
# $MINIBOX_RUNTIME_TOOLS_CACHE (default /var/cache/minibox/runtime-tools-260e151), ~40 s.
# Exit status 3 means "the suite is not available here" (the caller says it skipped).
set -euo pipefail
cd "$(dirname "$0")/.."

cache=${MINIBOX_RUNTIME_TOOLS_CACHE:-/var/cache/minibox/runtime-tools-260e151}
# Next to the checkout — or, in a git worktree, next to the main checkout.
main_checkout=$(dirname "$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null || echo "$(pwd)/.git")")
tarball=${MINIBOX_RUNTIME_TOOLS_TAR:-}
for candidate in "$(pwd)/../shared/third_party" "$main_checkout/../shared/third_party"; do
  [ -z "$tarball" ] && [ -f "$candidate/runtime-tools-260e151.tar.gz" ] && tarball="$candidate/runtime-tools-260e151.tar.gz"
done

build() {
  if [ -x "$cache/runtimetest" ] && [ -x "$cache/validation/default/default.t" ]; then echo "$cache"; return; fi
  command -v go >/dev/null || { echo "oci-runtime-tools: go is missing (apt-get install golang-go)" >&2; exit 3; }
  rm -rf "$cache.tmp" && mkdir -p "$cache.tmp"
  if [ -n "${MINIBOX_RUNTIME_TOOLS_SRC:-}" ]; then
    cp -a "$MINIBOX_RUNTIME_TOOLS_SRC/." "$cache.tmp/"
  elif [ -n "$tarball" ] && [ -f "$tarball" ]; then
    tar -xzf "$tarball" -C "$cache.tmp" --strip-components=1
  else
    echo "oci-runtime-tools: no suite here (set MINIBOX_RUNTIME_TOOLS_SRC or MINIBOX_RUNTIME_TOOLS_TAR, see docs/oci-runtime.md)" >&2
    exit 3
  fi
  (cd "$cache.tmp" && GOFLAGS=-mod=vendor GOPROXY=off GOCACHE="$cache.tmp/.gocache" make runtimetest validation-executables >/dev/null)
  rm -rf "$cache" && mv "$cache.tmp" "$cache"
  echo "$cache"
}

scratch=''
cleanup() {
  [ -n "$scratch" ] || return 0
  local leaked
  leaked=$(awk -v dir="$scratch/" 'index($5, dir) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  if [ -n "$leaked" ]; then
    echo "note: $(wc -l <<<"$leaked") mount(s) under $scratch were left on the host by the runtime; unmounting" >&2
    while read -r target; do umount -l "$target" 2>/dev/null || true; done <<<"$leaked"
  fi
  rm -rf "$scratch"
}

run() {
  local runtime=$1; shift
  local dir; dir=$(build)
  cd "$dir"
  local tests=("$@")
  [ ${#tests[@]} -gt 0 ] || mapfile -t tests < <(ls validation/*/*.t | xargs -n1 basename | sed 's/\.t$//')
  # The programs make their bundles under $TMPDIR and leave them (and, with runc's `shared`
  # rootfsPropagation, mounts that propagated to the host) when a check fails: a private TMPDIR,
  # unmounted and removed at the end, keeps the host clean.
  scratch=$(mktemp -d /tmp/oci-runtime-tools.XXXXXX)
  chmod 711 "$scratch" # a user namespace's root (host uid 1000 in linux_uid_mappings) must reach its bundle
  trap cleanup EXIT
  local full=0
  for name in "${tests[@]}"; do
    local out rc=0
    out=$(TMPDIR=$scratch RUNTIME=$runtime timeout 180 "validation/$name/$name.t" 2>&1) || rc=$?
    local ok notok
    ok=$(grep -c '^ok' <<<"$out" || true)
    notok=$(grep -c '^not ok' <<<"$out" || true)
    echo "$name ok=$ok notok=$notok rc=$rc"
    if [ "$rc" -eq 0 ] && [ "$ok" -gt 0 ] && [ "$notok" -eq 0 ]; then full=$((full + 1)); fi
  done
  echo "summary: $full of ${#tests[@]} programs pass fully against $runtime"
}

case "${1:-}" in
  build) build ;;
  run) shift; run "$@" ;;
  *) echo "usage: $0 build | run RUNTIME [TEST…]" >&2; exit 2 ;;
esac
