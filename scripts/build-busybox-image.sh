#!/usr/bin/env bash
# build-busybox-image.sh — build a small OCI image from the host's busybox-static, offline.
#
#   scripts/build-busybox-image.sh OUT_LAYOUT_DIR [TAG]
#
# Writes an OCI image layout (what `skopeo copy oci:DIR:TAG docker://…` pushes) containing one
# layer: /bin/busybox plus a symlink per applet, /etc/passwd and /etc/group, /tmp, /root.
# Uses umoci, the reference OCI image tool, so minibox is tested against images it did not make.
set -euo pipefail
out=${1:?usage: build-busybox-image.sh OUT_LAYOUT_DIR [TAG]}
tag=${2:-latest}
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "build-busybox-image: $busybox not found (apt-get install busybox-static)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$out"
umoci init --layout "$out"
umoci new --image "$out:$tag"
umoci unpack --rootless --image "$out:$tag" "$work/bundle" >/dev/null
root="$work/bundle/rootfs"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,proc,sys,dev,var/www}
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
daemon:x:1:
wheel:x:10:app
users:x:100:app
app:x:1000:
nogroup:x:65534:
GROUP
echo '<h1>hello from minibox</h1>' > "$root/var/www/index.html"
umoci repack --image "$out:$tag" "$work/bundle" >/dev/null
umoci config --image "$out:$tag" --tag "$tag" \
  --config.cmd /bin/sh --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --os linux --architecture amd64 --history.created_by "busybox-static from the host" >/dev/null
umoci gc --layout "$out"
