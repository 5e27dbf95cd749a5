#!/usr/bin/env bash
# Container start-to-exit: `shale run --rm IMAGE true` against `docker run --rm IMAGE true`, the same busybox
# image in both (imported by shale, `shale save` + `docker load`). One warm-up run each (shale unpacks the
# layer once), then RUNS runs each, interleaved. Prints the medians, the ratio, and two floors: the shale
# CLI alone (`shale ps`: node start-up, module loading, store open) and `runc run` of a ready bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
RUNS=${RUNS:-10}
work=$(mktemp -d /var/tmp/shale-bench-run.XXXXXX)
ref="bench-run:busybox-$$"
cleanup() {
  $shale --root "$work/store" prune >/dev/null 2>&1 || true
  # never rm -rf through a live mount: unmount whatever a failed run left below $work first
  grep -F " $work/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  runc --root "$work/runc" delete -f bench-floor >/dev/null 2>&1 || true
  rm -rf "$work"
  docker rmi "$ref" >/dev/null 2>&1 || true
}
trap cleanup EXIT
export SHALE_ROOT="$work/store"

# the same image in both engines
mkdir -p "$work/bundle/rootfs/bin" "$work/bundle/rootfs/etc" "$work/bundle/rootfs/tmp"
cp /bin/busybox "$work/bundle/rootfs/bin/busybox"
for a in sh true ls cat echo; do ln -s busybox "$work/bundle/rootfs/bin/$a"; done
tar -C "$work/bundle/rootfs" -cf "$work/busybox.tar" .
$shale import "$work/busybox.tar" "$ref" >/dev/null
$shale save "$ref" -o "$work/busybox-image.tar"
docker load -i "$work/busybox-image.tar" >/dev/null

# the floor bundle: runc's default spec, no terminal, running true
(cd "$work/bundle" && runc spec && sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"true"/' config.json)

run_floor() { runc --root "$work/runc" run --bundle "$work/bundle" bench-floor; }

# warm-up (and a check that each one works at all)
$shale run --rm "$ref" true
docker run --rm "$ref" true
run_floor

s=() d=() c=() f=()
for _ in $(seq "$RUNS"); do
  s+=("$(time_cmd $shale run --rm "$ref" true)")
  d+=("$(time_cmd docker run --rm "$ref" true)")
  c+=("$(time_cmd $shale ps)")
  f+=("$(time_cmd run_floor)")
done
leftover=$($shale ps -a --format json | tr -d '[:space:]')
[ "$leftover" = "[]" ] || { echo "container-run: shale run --rm left containers: $leftover" >&2; exit 1; }

awk -v n="run --rm true" -v runs="$RUNS" \
    -v s="$(printf '%s\n' "${s[@]}" | median)" -v d="$(printf '%s\n' "${d[@]}" | median)" \
    -v c="$(printf '%s\n' "${c[@]}" | median)" -v f="$(printf '%s\n' "${f[@]}" | median)" 'BEGIN {
  printf "%-14s shale %5.3fs docker %5.3fs ratio %.2f (median of %d) | floors: shale CLI alone (ps) %5.3fs, runc run %5.3fs\n",
    n, s/1e9, d/1e9, s/d, runs, c/1e9, f/1e9 }'
