#!/usr/bin/env bash
# provision.sh — make a fresh Debian/Ubuntu machine ready to build, run and test minibox.
# Idempotent: run it as often as you like. Used by README, .ci/run, the Vagrantfile and the VM tier.
#
#   apt packages  — the tools minibox's tests run against (a real registry, skopeo/umoci as
#                   reference implementations, busybox-static for offline images, runc for the
#                   side-by-side benchmark, tmux for terminal tests, iproute2/iptables for networking,
#                   buildah as the reference `minibox build` is compared with, strace to count the
#                   kill(2) calls behind a forwarded signal, and libseccomp2, the library the
#                   runtime compiles Docker's seccomp profile with; for minibox-runc, the OCI
#                   runtime: golang-go builds the runtime-tools conformance suite, podman and
#                   containerd drive minibox-runc in test/oci-runtime/engines.test.ts)
#   Node.js ≥ 20  — checked, and installed from the distribution when missing (see README for
#                   distributions whose nodejs is older)
#   npm ci + build
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "provision.sh: run as root (sudo bash scripts/provision.sh)" >&2
  exit 1
fi

packages=(
  docker-registry skopeo umoci busybox-static apache2-utils runc tmux
  iproute2 iptables zstd openssl ca-certificates curl procps util-linux gcc make libc6-dev time
  buildah strace libseccomp2 golang-go podman containerd jq
)
# The VM test tier (npm run test:vm, docs/vm.md): qemu boots Debian's kernel with an initramfs
# built by cpio; ruby checks the Vagrantfile's syntax. Debian only (the kernel package name);
# the Vagrant box sets MINIBOX_NO_VM_TIER=1 because it has cgroup v2 itself.
if [ -z "${MINIBOX_NO_VM_TIER:-}" ] && grep -qx 'ID=debian' /etc/os-release 2>/dev/null; then
  packages+=(qemu-system-x86 linux-image-amd64 cpio ruby)
fi
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs npm); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "provision: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "provision: Node.js $(node --version) is too old; minibox needs Node.js >= 20 (see README: Installing Node 20)" >&2
  exit 1
fi

# Debian's docker.io 20.10 *client* for the Engine API tests (test/api/, `minibox serve`): only
# the CLI binary, extracted from the package; the package's daemon (which rewrites iptables) is
# never installed. The 28.x CLI is /usr/local/bin/docker where the machine has it.
if [ ! -x /opt/docker-cli-20.10/docker ] && apt-cache show docker.io >/dev/null 2>&1; then
  deb_dir=$(mktemp -d)
  if (cd "$deb_dir" && apt-get download -qq docker.io >/dev/null 2>&1 && dpkg-deb -x docker.io_*.deb extracted); then
    install -D -m 0755 "$deb_dir/extracted/usr/bin/docker" /opt/docker-cli-20.10/docker
  else
    echo "provision: could not fetch Debian's docker.io client; test/api runs with the other docker CLI only" >&2
  fi
  rm -rf "$deb_dir"
fi

# The state root's default location; tests use temporary roots.
install -d -m 0711 /var/lib/minibox

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run build --silent
echo "provision: ready ($(node --version), $(./bin/minibox --version 2>/dev/null || echo minibox))"
