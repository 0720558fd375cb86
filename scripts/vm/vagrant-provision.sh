#!/usr/bin/env bash
# vagrant-provision.sh — run by the Vagrantfile as root inside a fresh Debian 12 box.
#
# Debian 12's nodejs package is version 18; minibox needs Node.js >= 20. NodeSource publishes
# Node 20 as an apt repository: we add its signing key and source (its documented manual setup),
# install nodejs, then hand over to scripts/provision.sh like every other machine, and install
# the checkout globally so `minibox` is on the PATH.
set -euo pipefail
cd /vagrant

if ! command -v node >/dev/null 2>&1 || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends ca-certificates curl gnupg >/dev/null
  install -d -m 0755 /etc/apt/keyrings
  curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor --yes -o /etc/apt/keyrings/nodesource.gpg
  echo "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_20.x nodistro main" \
    > /etc/apt/sources.list.d/nodesource.list
  apt-get update -qq
  apt-get install -y -qq nodejs >/dev/null
fi

bash scripts/provision.sh
npm install -g . --no-audit --no-fund --loglevel=error
echo "vagrant-provision: $(minibox --version) installed; cgroups: $(stat -fc %T /sys/fs/cgroup)"
minibox doctor || true
