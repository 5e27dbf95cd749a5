#!/usr/bin/env bash
# Start-up, side by side in one run (medians of RUNS, default 20, each pair run in turn):
#   - the single executable (dist/shale-linux-x64, `npm run package`) and bin/shale on Node 24, `--version`,
#     each against `docker --version` and against `node -e 0` on the same Node;
#   - `images` of a store with a few images against `docker images`;
#   - a cached build of a two-step Dockerfile against Docker's (classic builder, the same Dockerfile, cached).
# Prints each median and the ratios, and the executable's size.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
RUNS=${RUNS:-20}
exe=dist/shale-linux-x64
[ -x "$exe" ] && [ "$exe" -nt dist/shale.cjs ] || npm run --silent package >/dev/null
work=$(mktemp -d /var/tmp/shale-bench-startup.XXXXXX)
trap 'docker rmi -f startup-bench:1 startup-bench-base:1 >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export SHALE_ROOT=$work/store

# a busybox base in both engines, and a Dockerfile both build once before the timed (cached) builds
mkdir -p "$work/rootfs/bin" "$work/ctx"
cp /bin/busybox "$work/rootfs/bin/busybox"
for a in sh echo cat; do ln -s busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/base.tar" .
$shale import "$work/base.tar" startup-bench-base:1 >/dev/null
$shale save -o "$work/base-image.tar" startup-bench-base:1
docker load -i "$work/base-image.tar" >/dev/null
printf 'FROM startup-bench-base:1\nRUN echo one > /one\nCOPY f /f\n' >"$work/ctx/Dockerfile"
echo context >"$work/ctx/f"
$shale build -q -t startup-bench:1 "$work/ctx" >/dev/null
DOCKER_BUILDKIT=0 docker build -q -t startup-bench:1 "$work/ctx" >/dev/null 2>&1

node_e0="$(command -v node) -e 0"
row "executable --version" "$exe --version" "docker --version" "docker --version"
row "executable --version" "$exe --version" "$node_e0" "node -e 0"
row "bin/shale --version (Node 24)" "bin/shale --version" "docker --version" "docker --version"
row "bin/shale --version (Node 24)" "bin/shale --version" "$node_e0" "node -e 0"
row "executable images" "$exe images" "docker images" "docker images"
row "bin/shale images" "bin/shale images" "docker images" "docker images"
row "executable build (cached)" "$exe build -q $work/ctx" "DOCKER_BUILDKIT=0 docker build -q $work/ctx" "docker build"
row "bin/shale build (cached)" "bin/shale build -q $work/ctx" "DOCKER_BUILDKIT=0 docker build -q $work/ctx" "docker build"
echo "executable size: $(stat -c %s "$exe" | awk '{ printf "%.1f MB", $1 / 1e6 }')"
