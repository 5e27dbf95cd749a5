#!/usr/bin/env bash
# The second CI machine: a build whose steps a first machine built and exported to a registry, made on a
# machine that has only the base image, with `--cache-from type=registry`. shale against Docker 26's BuildKit
# (docker driver, `docker buildx build --network host`), both against one local docker-registry.
# Docker 26's docker driver refuses `--cache-to type=registry` ("Cache export is not supported for the docker
# driver"), and a docker-container driver needs the moby/buildkit image from the network: its cache is
# exported as inline cache in a pushed image (`--cache-to type=inline --push`), which `--cache-from
# type=registry,ref=` reads. shale exports with `--cache-to type=registry,ref=` (mode=min; the Dockerfile has
# one stage, so min is every step). Before each timed build: shale gets a fresh store with the base loaded
# and unpacked (untimed); Docker's build cache is pruned and the result images removed, the base kept.
# Prints median wall times of RUNS runs (second machine with the cache, and cold without it) and the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
RUNS=${RUNS:-3}
work=$(mktemp -d /var/tmp/shale-bench-cache-registry.XXXXXX)
d26=$(pwd)/.cache/docker26
docker26() { DOCKER_HOST=unix://${DOCKER26_SOCK:-/run/docker26.sock} DOCKER_CONFIG=$d26/config "$d26/prefix/usr/bin/docker" "$@"; }
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
host="127.0.0.1:$port"
cleanup() {
  [ -f "$work/registry.pid" ] && kill "$(cat "$work/registry.pid")" 2>/dev/null || true
  docker26 rmi -f cache-bench-base:1 cache-bench:x "$host/cache-bench:inline" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/registry"
printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' "$work/registry" "$host" >"$work/registry.yml"
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
echo $! >"$work/registry.pid"
for _ in $(seq 100); do curl -fs "http://$host/v2/" >/dev/null && break; sleep 0.1; done

# a busybox base under one ID in both engines
rootfs=$work/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp"
cp /bin/busybox "$rootfs/bin/busybox"
for a in sh true cat echo dd seq sha256sum head tar gzip mkdir; do ln -s busybox "$rootfs/bin/$a"; done
tar -C "$rootfs" -cf "$work/base.tar" .
SHALE_ROOT=$work/base-store $shale import "$work/base.tar" cache-bench-base:1 >/dev/null
SHALE_ROOT=$work/base-store $shale save cache-bench-base:1 -o "$work/base-image.tar"
docker26 load -i "$work/base-image.tar" >/dev/null

# what a CI build does: work that takes CPU time (a checksum of generated data, an archive), layers of tens of MB
ctx=$work/ctx
mkdir -p "$ctx/src"
for i in $(seq 200); do head -c 20000 /dev/urandom | base64 >"$ctx/src/f$i.txt"; done
cat >"$ctx/Dockerfile" <<'EOF'
FROM cache-bench-base:1
RUN seq 1 3000000 | sha256sum > /seq.sum && dd if=/dev/urandom of=/data bs=1M count=40 2>/dev/null
COPY src /src
RUN tar -C /src -cf - . | gzip -9 > /src.tar.gz && sha256sum /data /src.tar.gz > /sums
RUN dd if=/dev/urandom of=/assets bs=1M count=20 2>/dev/null && cat /seq.sum /sums > /manifest
EOF

fresh_store() { # a machine with only the base, unpacked
  rm -rf "$work/store"
  SHALE_ROOT=$work/store $shale load -i "$work/base-image.tar" >/dev/null
  SHALE_ROOT=$work/store $shale run --rm cache-bench-base:1 true >/dev/null
  sync
}
docker_fresh() { docker26 builder prune -af >/dev/null; docker26 rmi -f cache-bench:x "$host/cache-bench:inline" >/dev/null 2>&1 || true; sync; }
fail() { echo "bench: $1 failed:" >&2; cat "$work/build.log" >&2; exit 1; }
shale_build() { SHALE_ROOT=$work/store $shale build --progress plain -t cache-bench:x "$@" "$ctx" >"$work/build.log" 2>&1 || fail "shale build $*"; }
docker_build() { docker26 buildx build --progress plain --network host -t cache-bench:x "$@" "$ctx" >"$work/build.log" 2>&1 || fail "docker build $*"; }
timed() { local t0; t0=$(now); "$@"; echo $(( $(now) - t0 )); }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
secs() { awk -v a="$1" 'BEGIN { printf "%6.2fs", a / 1e9 }'; }

# the first machine: both export their cache (untimed)
fresh_store
shale_build --cache-to "type=registry,ref=$host/cache-bench:shale"
first_id=$(tail -n 1 "$work/build.log" | sed 's/^writing image //; s/ .*//')
docker_fresh
docker26 buildx build --progress plain --network host --cache-to type=inline --push -t "$host/cache-bench:inline" "$ctx" >"$work/build.log" 2>&1 || fail "docker push with inline cache"

sw=() dw=() sc=() dc=()
for _ in $(seq "$RUNS"); do
  fresh_store
  sw+=("$(timed shale_build --cache-from "type=registry,ref=$host/cache-bench:shale")")
  [ "$(grep -c '^#[0-9]* CACHED$' "$work/build.log")" -eq 4 ] || { echo "bench: a step ran on the second machine" >&2; cat "$work/build.log" >&2; exit 1; }
  grep -q "$first_id" "$work/build.log" || { echo "bench: the second machine's image ID is not the first's ($first_id)" >&2; cat "$work/build.log" >&2; exit 1; }
  docker_fresh
  dw+=("$(timed docker_build --cache-from "type=registry,ref=$host/cache-bench:inline")")
  [ "$(grep -c ' CACHED$' "$work/build.log")" -ge 4 ] || { echo "bench: Docker did not reuse the cache" >&2; cat "$work/build.log" >&2; exit 1; }
  fresh_store
  sc+=("$(timed shale_build)")
  docker_fresh
  dc+=("$(timed docker_build)")
done
s_w=$(printf '%s\n' "${sw[@]}" | median) d_w=$(printf '%s\n' "${dw[@]}" | median)
s_c=$(printf '%s\n' "${sc[@]}" | median) d_c=$(printf '%s\n' "${dc[@]}" | median)
echo "second machine, --cache-from registry: shale $(secs "$s_w") docker26 $(secs "$d_w") shale/docker26 $(ratio "$s_w" "$d_w")"
echo "second machine, cold (no cache):       shale $(secs "$s_c") docker26 $(secs "$d_c") shale/docker26 $(ratio "$s_c" "$d_c")"
echo "with the cache / cold: shale $(ratio "$s_w" "$s_c"), docker26 $(ratio "$d_w" "$d_c")"
