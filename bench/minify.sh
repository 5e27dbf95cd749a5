#!/usr/bin/env bash
# `shale minify` on the test images over the Debian base (debootstrap minbase, bench/debian-rootfs.sh):
# the apt curl image (probes `curl --version`, `curl -s file:///etc/os-release`), a Python http.server (an
# HTTP probe on port 8000), each from scratch, and the curl image with --keep-base. Per image: bytes before
# and after (and, with --keep-base, the bytes to pull over the base), then the time of minify against the
# time of a cold build of the original (`build --no-cache` over the imported base), RUNS runs each,
# interleaved; medians and the ratio (goal: minify within 2x of one cold build).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
RUNS=${RUNS:-3}
work=$(mktemp -d /var/tmp/shale-bench-minify.XXXXXX)
cleanup() {
  grep -F " $work/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export SHALE_ROOT="$work/store"
$shale import "$(bash bench/debian-rootfs.sh)" bench-minify:base >/dev/null

mkdir -p "$work/curl" "$work/py"
printf 'FROM bench-minify:base\nRUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\nCMD ["curl", "--version"]\n' >"$work/curl/Dockerfile"
printf 'FROM bench-minify:base\nRUN apt-get update && apt-get install -y python3\nCMD python3 -m http.server 8000\n' >"$work/py/Dockerfile"

declare -A probes=(
  [curl]="--probe-cmd 'curl --version' --probe-cmd 'curl -s file:///etc/os-release'"
  [py]="--probe-http 8000/"
)
minify() { # NAME TAG EXTRA...: one minify of bench-minify:NAME, its JSON to $work/NAME-TAG.json
  local name=$1 tag=$2; shift 2
  eval "$shale minify bench-minify:$name -t bench-minify:$name-$tag ${probes[$name]} --format json $*" >"$work/$name-$tag.json" 2>/dev/null
}
field() { node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); console.log(process.argv[2].split(".").reduce((o,k)=>o[k],r))' "$1" "$2"; }

for name in curl py; do
  $shale build -q -t "bench-minify:$name" "$work/$name" >/dev/null
  minify "$name" min # warm-up and check
  b=() m=()
  for _ in $(seq "$RUNS"); do
    b+=("$(time_cmd $shale build --no-cache -q -t "bench-minify:$name" "$work/$name")")
    t0=$(now); minify "$name" min; m+=("$(( $(now) - t0 ))")
  done
  j="$work/$name-min.json"
  awk -v n="$name" -v runs="$RUNS" -v before="$(field "$j" before.sizeBytes)" -v after="$(field "$j" after.sizeBytes)" \
      -v b="$(printf '%s\n' "${b[@]}" | median)" -v m="$(printf '%s\n' "${m[@]}" | median)" 'BEGIN {
    printf "%-5s %11d B -> %10d B (%5.1fx smaller) | minify %6.2fs, cold build %6.2fs, ratio %.2f (median of %d)\n",
      n, before, after, before/after, m/1e9, b/1e9, m/b, runs }'
done

minify curl keep-base --keep-base
j="$work/curl-keep-base.json"
awk -v before="$(field "$j" before.sizeBytes)" -v after="$(field "$j" after.sizeBytes)" -v pull="$(field "$j" newLayerBytes)" 'BEGIN {
  printf "curl --keep-base: %d B -> %d B with the base; %d B to pull when the base is there\n", before, after, pull }'
