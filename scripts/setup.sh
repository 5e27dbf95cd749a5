#!/usr/bin/env bash
# Installs everything shale and its tests need on a fresh Debian 12 machine (run as root), builds shale,
# and starts the Docker Engine used by the interop tests. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
for p in docker.io runc uidmap skopeo umoci busybox-static debootstrap zstd libdeflate-tools binutils attr chromium docker-registry apache2-utils openssh-client qemu-user-static binfmt-support strace; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "setup: installing ${need_pkgs[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# Node.js 24 (an LTS line shale supports): the machine's, else unpacked into .cache/node/24
source scripts/node-runtime.sh
use_node 24
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build

bash scripts/start-dockerd.sh
bash scripts/setup-binfmt.sh
bash scripts/setup-docker26.sh
