#!/usr/bin/env bash
# build-initramfs.sh — pack everything the VM test tier needs into one initramfs (a cpio archive
# the kernel unpacks into RAM and runs /init from), and print its path.
#
#   scripts/vm/build-initramfs.sh            → .cache/vm/initramfs-<key>.cpio.gz
#
# Contents: busybox-static (shell, mount, insmod, ip…), the node binary and the shared libraries
# `ldd` lists for it, Debian's runc when the host has it (the peer in test/vm/oci-cgroups.test.ts;
# with its libraries from ldd), the static docker CLI when the host has one at /usr/local/bin
# (test/vm/api-stats.test.ts drives `docker stats/pause/update` with it),
# the built repository (dist/, bin/, package.json, node_modules, test/, bench/, docs/lessons/,
# scripts/, vitest config), the kernel modules minibox uses for the VM's kernel (overlay, veth,
# bridge… with their dependencies, in load order), a minibox store holding the busybox test
# image at /minibox-store (scripts/vm/prepare-store.sh), a few /etc files, and
# scripts/vm/init.sh as /init. The kernel is Debian's `linux-image-amd64` (scripts/vm/kernel.sh
# picks it), not the host's running kernel: its modules are in /lib/modules/<version> on the host.
#
# The archive is cached by content: the key hashes the kernel version, these scripts, and the
# name, size and mtime of every file that goes in. A second run with nothing changed prints the
# cached path at once.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
cache="$repo/.cache/vm"
mkdir -p "$cache"

kernel=$(bash scripts/vm/kernel.sh)
kver=${kernel##*/vmlinuz-}
moddir=/lib/modules/$kver
[ -d "$moddir" ] || { echo "build-initramfs: $moddir missing (apt-get install linux-image-amd64)" >&2; exit 1; }
busybox=/bin/busybox
file "$busybox" 2>/dev/null | grep -q 'statically linked' || [ -x "$busybox" ] \
  || { echo "build-initramfs: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }
node=$(readlink -f "$(command -v node)")
runc=$(command -v runc || true)
docker_cli=/usr/local/bin/docker
file "$docker_cli" 2>/dev/null | grep -q 'statically linked' || docker_cli=''
[ -d dist ] || { echo "build-initramfs: dist/ missing — run npm run build first" >&2; exit 1; }

# Modules minibox may load, resolved with their dependencies in load order from modules.dep.
wanted=(overlay veth bridge br_netfilter nf_conntrack nf_nat nf_tables nft_chain_nat nft_compat
  xt_MASQUERADE xt_conntrack xt_addrtype iptable_nat iptable_filter)
module_paths() {
  local seen=" "
  resolve() {
    local rel=$1 line deps dep
    case "$seen" in *" $rel "*) return;; esac
    line=$(grep -m1 "^$rel:" "$moddir/modules.dep" || true)
    deps=${line#*:}
    for dep in $deps; do resolve "$dep"; done
    seen="$seen$rel "
    echo "$rel"
  }
  local name rel
  for name in "${wanted[@]}"; do
    rel=$(grep -E -m1 "(^|/)${name}\.ko(\.xz|\.zst|\.gz)?:" "$moddir/modules.dep" | cut -d: -f1 || true)
    [ -n "$rel" ] && resolve "$rel"
  done
}
mapfile -t modules < <(module_paths)

repo_items=()
for item in src dist bin native package.json vitest.config.ts tsconfig.json test bench scripts docs/lessons node_modules; do
  [ -e "$item" ] && repo_items+=("$item")
done
# Shared libraries of node and of the native addons in node_modules (rolldown's needs librt).
native_addons=$(find node_modules -name '*.node' \( -path '*linux_x64*' -o -path '*linux-x64*' \) 2>/dev/null || true)
# libseccomp is loaded by the runtime itself (koffi, src/sys/seccomp.ts), so ldd cannot see it.
seccomp_lib=$(ldconfig -p | awk '/libseccomp\.so\.2 /{print $NF; exit}')
libs=$( { for binary in "$node" $native_addons $runc; do ldd "$binary" 2>/dev/null; done; echo "$seccomp_lib"; } \
  | grep -oE '/[^ ]+' | sort -u)

key=$( {
  echo "$kver $node $(stat -c '%s %Y' "$node") $(stat -c '%s %Y' "$busybox") ${runc:+$runc $(stat -c '%s %Y' "$runc")} ${docker_cli:+$docker_cli $(stat -c '%s %Y' "$docker_cli")}"
  printf '%s\n' "${modules[@]}" $libs
  cat scripts/vm/build-initramfs.sh scripts/vm/init.sh
  find "${repo_items[@]}" -path node_modules/.cache -prune -o -printf '%p %s %T@\n' 2>/dev/null | sort
} | sha256sum | cut -c1-16)
out="$cache/initramfs-$key.cpio.gz"
if [ -s "$out" ]; then echo "$out"; exit 0; fi

stage=$(mktemp -d "$cache/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc,proc,sys,dev,tmp,var,run,root,minibox}

cp "$busybox" "$stage/bin/busybox"
cp scripts/vm/init.sh "$stage/init"
chmod 0755 "$stage/init"

cp "$node" "$stage/usr/bin/node"
[ -z "$runc" ] || cp "$runc" "$stage/usr/sbin/runc"
[ -z "$docker_cli" ] || cp "$docker_cli" "$stage/usr/local/bin/docker"
for lib in $libs; do
  mkdir -p "$stage$(dirname "$lib")"
  cp -L "$lib" "$stage$lib"
done

: > "$stage/etc/vm-modules"
for rel in "${modules[@]}"; do
  dest="$stage/lib/modules/$kver/$rel"
  mkdir -p "$(dirname "$dest")"
  # busybox insmod reads plain .ko files: decompress here if the distribution ships them packed.
  case "$rel" in
    *.ko.xz) xz -dc "$moddir/$rel" > "${dest%.xz}"; dest=${dest%.xz};;
    *.ko.zst) zstd -qdc "$moddir/$rel" > "${dest%.zst}"; dest=${dest%.zst};;
    *.ko.gz) gzip -dc "$moddir/$rel" > "${dest%.gz}"; dest=${dest%.gz};;
    *) cp "$moddir/$rel" "$dest";;
  esac
  echo "${dest#"$stage"}" >> "$stage/etc/vm-modules"
done

printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$stage/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$stage/etc/group"
printf '127.0.0.1 localhost minibox-vm\n::1 localhost\n' > "$stage/etc/hosts"
echo minibox-vm > "$stage/etc/hostname"

# The repository, without what only the host needs (TypeScript compiler, other platforms' koffi).
tar -C "$repo" --exclude=node_modules/typescript --exclude=node_modules/.cache \
  --exclude='node_modules/koffi/build/koffi/[!l]*' --exclude='node_modules/koffi/build/koffi/linux_[!x]*' \
  --exclude='node_modules/koffi/src' --exclude='node_modules/koffi/vendor' \
  -cf - "${repo_items[@]}" | tar -C "$stage/minibox" -xf -

# An image store with the busybox test image (the VM cannot pull: it has no network).
bash scripts/vm/prepare-store.sh "$stage/minibox-store" >/dev/null

# Old archives for other keys are dead weight: keep only the newest.
rm -f "$cache"/initramfs-*.cpio.gz
(cd "$stage" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 > "$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
