#!/usr/bin/env bash
# Builds the modern fidelity cases test/fixtures/modern/bench-* with shale and with Docker 26's BuildKit
# (`docker buildx build --network host --load`) from the same busybox-base, cold and fully cached, then a
# build whose stages are independent with parallel stages and one stage at a time (SHALE_BUILD_PARALLELISM=1).
# Cold: shale builds into a store holding only the base (unpacked once, untimed, as docker load unpacks it);
# Docker's build cache is pruned (`docker builder prune -af`) and the result image removed, the base kept;
# before each cold build, `sync` writes back what earlier runs left, so neither builder pays for the other.
# Prints median wall times of RUNS runs and the ratios shale/docker and parallel/sequential.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
RUNS=${RUNS:-1}
work=$(mktemp -d /var/tmp/shale-bench-buildkit.XXXXXX)
d26=$(pwd)/.cache/docker26
docker26() { DOCKER_HOST=unix://${DOCKER26_SOCK:-/run/docker26.sock} DOCKER_CONFIG=$d26/config "$d26/prefix/usr/bin/docker" "$@"; }
trap 'rm -rf "$work"; docker26 rmi -f busybox-base bench-out:x >/dev/null 2>&1 || true' EXIT

# busybox-base as the fidelity suite makes it (test/support/rootfs.ts), in both engines under one ID
rootfs=$work/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"
cp /bin/busybox "$rootfs/bin/busybox"
for a in sh ls cat echo rm dd mkdir ln chmod chown true false mkfifo touch cp mv env test stat sleep id printf head wc sha256sum find grep; do
  ln -s busybox "$rootfs/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nuser:x:1000:\n' >"$rootfs/etc/group"
tar -C "$rootfs" -cf "$work/base.tar" .
SHALE_ROOT=$work/base-store $shale import "$work/base.tar" busybox-base >/dev/null
SHALE_ROOT=$work/base-store $shale save busybox-base -o "$work/base-image.tar"
docker26 load -i "$work/base-image.tar" >/dev/null

fresh_store() { # a store with only the base, unpacked
  rm -rf "$work/store"
  SHALE_ROOT=$work/store $shale load -i "$work/base-image.tar" >/dev/null
  SHALE_ROOT=$work/store $shale run --rm busybox-base true >/dev/null
  sync # the previous run's writes are on disk before the next cold build starts, for both builders
}
case_args() { # the case's args (case.json), one a line
  [ -f "$1/case.json" ] && node -e 'for (const a of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).args ?? []) console.log(a)' "$1/case.json" || true
}
# a failed build is not a time: it stops the benchmark, with its output
build_or_fail() { "$@" >"$work/build.log" 2>&1 || { echo "bench: build failed: $*" >&2; cat "$work/build.log" >&2; touch "$work/failed"; }; }
shale_build() { (cd "$1" && build_or_fail env SHALE_ROOT="$work/store" $shale build "${@:2}" -t bench-out:x .); }
docker_build() { (cd "$1" && build_or_fail docker26 buildx build --network host --load "${@:2}" -t bench-out:x .); }
check() { if [ -e "$work/failed" ]; then cat "$work/build.log" >&2; exit 1; fi; }
docker_cold() { docker26 builder prune -af >/dev/null; docker26 rmi -f bench-out:x >/dev/null 2>&1 || true; sync; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
secs() { awk -v a="$1" 'BEGIN { printf "%6.2fs", a / 1e9 }'; }

for dir in test/fixtures/modern/bench-*/; do
  dir=${dir%/}
  name=$(basename "$dir")
  mapfile -t args < <(case_args "$dir")
  sc=() sw=() dc=() dw=()
  for _ in $(seq "$RUNS"); do
    fresh_store
    sc+=("$(time_cmd shale_build "$dir" "${args[@]}")")
    sw+=("$(time_cmd shale_build "$dir" "${args[@]}")")
    docker_cold
    dc+=("$(time_cmd docker_build "$dir" "${args[@]}")")
    dw+=("$(time_cmd docker_build "$dir" "${args[@]}")")
  done
  s_c=$(printf '%s\n' "${sc[@]}" | median) s_w=$(printf '%s\n' "${sw[@]}" | median)
  check
  d_c=$(printf '%s\n' "${dc[@]}" | median) d_w=$(printf '%s\n' "${dw[@]}" | median)
  echo "$name cold: shale $(secs "$s_c") docker26 $(secs "$d_c") ratio $(ratio "$s_c" "$d_c") | cached: shale $(secs "$s_w") docker26 $(secs "$d_w") ratio $(ratio "$s_w" "$d_w")"
done

# independent stages: the fan-out case's three generator stages, cold, parallel / one at a time
par=() seq1=()
for _ in $(seq "$RUNS"); do
  fresh_store
  par+=("$(time_cmd shale_build test/fixtures/modern/bench-fanout)")
  fresh_store
  seq1+=("$(SHALE_BUILD_PARALLELISM=1 time_cmd shale_build test/fixtures/modern/bench-fanout)")
done
check
p=$(printf '%s\n' "${par[@]}" | median) q=$(printf '%s\n' "${seq1[@]}" | median)
echo "independent stages (bench-fanout, cold): parallel $(secs "$p") one at a time $(secs "$q") ratio $(ratio "$p" "$q")"
