#!/usr/bin/env bash
# The listing commands on a store of 50 images and 10 ended containers, side by side with Docker holding the
# same 50 images (`shale save` + `docker load`) and 10 ended containers of its own: `images` against
# `docker images`, `ps -a` against `docker ps -a`, `df` against `docker system df`. Medians of RUNS (default
# 20), each pair run in turn; also `node -e 0` on the same Node, the floor of any command shale runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
RUNS=${RUNS:-20}
IMAGES=50
CONTAINERS=10
work=$(mktemp -d /var/tmp/shale-bench-list.XXXXXX)
repo="bench-list-$$"
cleanup() {
  docker ps -aq --filter "label=$repo" | xargs -r docker rm -f >/dev/null 2>&1 || true
  docker images -q "$repo" | sort -u | xargs -r docker rmi -f >/dev/null 2>&1 || true
  $shale --root "$work/store" prune >/dev/null 2>&1 || true
  grep -F " $work/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export SHALE_ROOT="$work/store"

# 50 images of one busybox layer, each its own config (a label), in both engines
mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/busybox"
for a in sh true; do ln -s busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/busybox.tar" .
$shale import "$work/busybox.tar" "$repo:base" >/dev/null
refs=()
for i in $(seq "$IMAGES"); do
  $shale mutate --label "n=$i" --label "$repo=1" -t "$repo:$i" "$repo:base" >/dev/null
  refs+=("$repo:$i")
done
$shale save -o "$work/all.tar" "${refs[@]}"
docker load -i "$work/all.tar" >/dev/null
for i in $(seq "$CONTAINERS"); do
  $shale run --name "$repo-$i" "$repo:$i" true
  docker run --name "$repo-$i" --label "$repo" "$repo:$i" true
done

exe=dist/shale-linux-x64
[ -x "$exe" ] && [ "$exe" -nt dist/shale.cjs ] || npm run --silent package >/dev/null
echo "listing $IMAGES images and $CONTAINERS ended containers (medians of $RUNS):"
row "images" "$shale images" "docker images" "docker images"
row "images (executable)" "$exe images" "docker images" "docker images"
row "ps -a" "$shale ps -a" "docker ps -a" "docker ps -a"
row "ps -a (executable)" "$exe ps -a" "docker ps -a" "docker ps -a"
row "df" "$shale df" "docker system df" "docker system df"
row "df (executable)" "$exe df" "docker system df" "docker system df"
row "node -e 0" "$(command -v node) -e 0" "docker images" "docker images"
