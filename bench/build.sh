#!/usr/bin/env bash
# Builds the seed Dockerfiles (busybox base) and an apt Dockerfile (Debian base) with shale and with
# `DOCKER_BUILDKIT=0 docker build --network host` (shale's RUN default) from the same base, cold (no cache)
# and fully cached.
# Prints median wall times of RUNS runs and the ratios shale/docker.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
RUNS=${RUNS:-3}
APT=${APT:-1}
SEED=${SEED:-1}
work=$(mktemp -d /var/tmp/shale-bench-build.XXXXXX)
trap 'rm -rf "$work"; docker rmi -f bench-base:busybox bench-base:debian bench-out:x >/dev/null 2>&1 || true' EXIT
export SHALE_ROOT="$work/store"

# the same bases in both engines
mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/busybox"
for a in sh ls cat echo rm dd mkdir; do ln -s busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/busybox.tar" .
$shale import "$work/busybox.tar" bench-base:busybox >/dev/null
if [ "$APT" = 1 ]; then
  $shale import "$(bash bench/debian-rootfs.sh)" bench-base:debian >/dev/null
  $shale save bench-base:busybox bench-base:debian -o "$work/bases.tar"
else
  $shale save bench-base:busybox -o "$work/bases.tar"
fi
docker load -i "$work/bases.tar" >/dev/null
# docker load unpacks the bases into its layer store; shale unpacks a layer the first time a snapshot
# needs it: one untimed run does that, so both builders start with their bases unpacked
$shale run --rm bench-base:busybox sh -c : >/dev/null
if [ "$APT" = 1 ]; then $shale run --rm bench-base:debian true >/dev/null; fi

mkdir -p "$work/seed-split" "$work/seed-chained" "$work/apt"
printf 'FROM bench-base:busybox\nWORKDIR /home\nRUN dd if=/dev/zero of=50M.file bs=1M count=50\nRUN rm -rf 50M.file\n' >"$work/seed-split/Dockerfile"
printf 'FROM bench-base:busybox\nWORKDIR /home\nRUN dd if=/dev/zero of=50M.file bs=1M count=50 && rm -rf 50M.file\n' >"$work/seed-chained/Dockerfile"
printf 'FROM bench-base:debian\nRUN apt-get update\nRUN apt-get install -y --no-install-recommends curl\n' >"$work/apt/Dockerfile"


measure() { # name dir
  local name=$1 dir=$2 sc=() dc=() sw=() dw=()
  for _ in $(seq "$RUNS"); do
    sc+=("$(time_cmd $shale build --no-cache -t bench-out:x "$dir")")
    dc+=("$(time_cmd env DOCKER_BUILDKIT=0 docker build --network host --no-cache -t bench-out:x "$dir")")
    sw+=("$(time_cmd $shale build -t bench-out:x "$dir")")
    dw+=("$(time_cmd env DOCKER_BUILDKIT=0 docker build --network host -t bench-out:x "$dir")")
  done
  awk -v n="$name" -v sc="$(printf '%s\n' "${sc[@]}" | median)" -v dc="$(printf '%s\n' "${dc[@]}" | median)" \
      -v sw="$(printf '%s\n' "${sw[@]}" | median)" -v dw="$(printf '%s\n' "${dw[@]}" | median)" 'BEGIN {
    printf "%-14s cold: shale %6.2fs docker %6.2fs ratio %.2f | cached: shale %5.2fs docker %5.2fs ratio %.2f\n",
      n, sc/1e9, dc/1e9, sc/dc, sw/1e9, dw/1e9, sw/dw }'
}

if [ "$SEED" = 1 ]; then
  measure seed-split "$work/seed-split"
  measure seed-chained "$work/seed-chained"
fi
if [ "$APT" = 1 ]; then RUNS=1 measure apt-curl "$work/apt"; fi
