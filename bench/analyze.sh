#!/usr/bin/env bash
# `shale analyze --format json` (to /dev/null): wall time and peak RSS against the floor of reading the
# same layers with tar (gzip -dc | tar for gzip layers), the layers one after another on one core and all
# at once in parallel.
#  debian:    a ~250 MB Debian image of 4 layers (the debootstrap rootfs imported, then built on: ~30 MB of
#             files added, some of them and some of the base deleted, a few chmodded), from the store,
#             as a docker-archive (`shale save`), as a docker-archive with gzip layers, and as an OCI
#             archive.
#  synthetic: ~1.2 GB of layer tars, 215k entries in 4 layers (bench/synthetic-image.mjs: small files and
#             big ones, overwritten, deleted, opaque, chmodded), loaded into the store.
# Prints median wall times of RUNS runs, the highest peak RSS, the ratios, and the goals: within 1.3x of
# the one-core floor, faster than the parallel floor, under 300 MB for the 200k-file image.
# The floor reads every byte; "hdr" is tar -t, which seeks over the contents of plain layers (the least
# any reader of a plain layer has to do).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
RUNS=${RUNS:-3}
DEBIAN=${DEBIAN:-1}
SYNTHETIC=${SYNTHETIC:-1}
unset CI # times the report: CI=true would also check the CI rules
work=$(mktemp -d /var/tmp/shale-bench-analyze.XXXXXX)
trap 'rm -rf "$work"' EXIT
export SHALE_ROOT="$work/store"

store_layers() { # ref -> the layer blobs in the store
  $shale inspect "$1" --format json | jq -r '.manifest.layers[].digest' | sed "s|^sha256:|$SHALE_ROOT/blobs/sha256/|"
}

# The floors. Through a pipe: GNU tar skips reading contents when its output is /dev/null itself.
is_gzip() { [ "$(head -c2 "$1" | od -An -tx1 | tr -d ' \n')" = 1f8b ]; }
read_layer() { if is_gzip "$1"; then gzip -dc "$1" | tar -xO | cat >/dev/null; else tar -xOf "$1" | cat >/dev/null; fi; }
floor_one_core() { local l; for l in "$@"; do read_layer "$l"; done; }
floor_parallel() { local l; for l in "$@"; do read_layer "$l" & done; wait; }
floor_headers() { local l; for l in "$@"; do if is_gzip "$l"; then gzip -dc "$l" | tar -t >/dev/null; else tar -tf "$l" >/dev/null; fi; done; }
time_ns() { local t0; t0=$(now); "$@"; echo $(( $(now) - t0 )); }

rows=()
measure() { # name source layer-files...
  local name=$1 src=$2; shift 2
  local s=() r=() f1=() fp=() fh=()
  # the archives were just written: their pages going to disk would slow whichever row comes first
  sync
  $shale analyze "$src" --format json >/dev/null # warm-up (and a check that it works at all)
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f '%e %M' -o "$work/time" $shale analyze "$src" --format json >/dev/null
    read -r secs kb <"$work/time"
    s+=("$secs"); r+=("$kb")
    f1+=("$(time_ns floor_one_core "$@")")
    fp+=("$(time_ns floor_parallel "$@")")
    fh+=("$(time_ns floor_headers "$@")")
  done
  rows+=("$(awk -v n="$name" -v s="$(printf '%s\n' "${s[@]}" | median)" -v r="$(printf '%s\n' "${r[@]}" | sort -n | tail -1)" \
    -v f1="$(printf '%s\n' "${f1[@]}" | median)" -v fp="$(printf '%s\n' "${fp[@]}" | median)" -v fh="$(printf '%s\n' "${fh[@]}" | median)" 'BEGIN {
    printf "%-24s %8.2f %8d %9.2f %9.2f %7.2f %7.2f %8.2f", n, s, r/1024, f1/1e9, fp/1e9, s/(f1/1e9), s/(fp/1e9), fh/1e9 }')")
}

if [ "$DEBIAN" = 1 ]; then
  $shale import "$(bash bench/debian-rootfs.sh)" bench-analyze/debian:base >/dev/null
  mkdir -p "$work/ctx"
  cat >"$work/ctx/Dockerfile" <<'EOF'
FROM bench-analyze/debian:base
RUN mkdir -p /opt/data && cd /opt/data && for d in 0 1 2 3 4 5 6 7 8 9; do mkdir $d && for i in $(seq 1 30); do head -c 100000 /dev/urandom >$d/f$i; done; done && head -c 3000000 /dev/urandom >big
RUN rm -rf /opt/data/3 /opt/data/4 /opt/data/big /usr/share/doc/apt /usr/share/man/man1
RUN chmod 0600 /opt/data/5/f1 /opt/data/5/f2 /usr/bin/perl /usr/bin/bash && chmod -R g-r /opt/data/6
EOF
  $shale build -q -t bench-analyze/debian:layered "$work/ctx" >/dev/null
  mapfile -t blobs < <(store_layers bench-analyze/debian:layered)

  # a docker-archive, and the same with its layers gzipped (manifest.json pointing at the .tar.gz files)
  $shale save bench-analyze/debian:layered -o "$work/debian.tar"
  mkdir -p "$work/plain" "$work/gz/blobs/sha256"
  tar -C "$work/plain" -xf "$work/debian.tar"
  mapfile -t plain < <(jq -r '.[0].Layers[]' "$work/plain/manifest.json")
  gzs=()
  for i in "${!plain[@]}"; do # named by their digests, as an archive of compressed blobs names them
    gzip -1 -n -c "$work/plain/${plain[$i]}" >"$work/gz/layer.tar.gz"
    hex=$(sha256sum "$work/gz/layer.tar.gz" | cut -d' ' -f1)
    mv "$work/gz/layer.tar.gz" "$work/gz/blobs/sha256/$hex"
    gzs+=("blobs/sha256/$hex")
  done
  config=$(jq -r '.[0].Config' "$work/plain/manifest.json")
  mkdir -p "$work/gz/$(dirname "$config")"
  cp "$work/plain/$config" "$work/gz/$config"
  jq --args '.[0].Layers = $ARGS.positional | [.[0]]' "${gzs[@]}" <"$work/plain/manifest.json" >"$work/gz/manifest.json"
  tar -C "$work/gz" -cf "$work/debian-gz.tar" manifest.json "$config" $(printf '%s\n' "${gzs[@]}")
  echo "debian: layers $(for b in "${blobs[@]}"; do echo -n "$(( $(stat -c %s "$b") >> 20 ))M "; done)(gzip $(du -m "$work/debian-gz.tar" | cut -f1) MB)"

  measure "debian store" bench-analyze/debian:layered "${blobs[@]}"
  measure "debian docker-archive" "docker-archive:$work/debian.tar" "${plain[@]/#/$work/plain/}"
  measure "debian docker-archive gz" "docker-archive:$work/debian-gz.tar" "${gzs[@]/#/$work/gz/}"
  # an OCI archive of the same image (plain layers, blobs named by digest)
  $shale save --format oci-archive bench-analyze/debian:layered -o "$work/debian-oci.tar"
  mkdir -p "$work/oci" && tar -C "$work/oci" -xf "$work/debian-oci.tar"
  manifest=$(jq -r '.manifests[0].digest' "$work/oci/index.json" | sed 's|sha256:|blobs/sha256/|')
  mapfile -t ocis < <(jq -r '.layers[].digest' "$work/oci/$manifest" | sed "s|sha256:|$work/oci/blobs/sha256/|")
  measure "debian oci-archive" "oci-archive:$work/debian-oci.tar" "${ocis[@]}"
fi

if [ "$SYNTHETIC" = 1 ]; then
  node bench/synthetic-image.mjs "$work/synthetic" bench-analyze/synthetic:latest
  $shale load -i "$work/synthetic" >/dev/null
  rm -rf "$work/synthetic"
  mapfile -t blobs < <(store_layers bench-analyze/synthetic:latest)
  echo "synthetic: layers $(for b in "${blobs[@]}"; do echo -n "$(( $(stat -c %s "$b") >> 20 ))M "; done)"
  measure "synthetic 215k store" bench-analyze/synthetic:latest "${blobs[@]}"
fi

echo "shale analyze, median of $RUNS (s: seconds, RSS: highest peak; floor: tar reading the layers, 1 core / parallel; hdr: tar -t)"
printf '%-24s %8s %8s %9s %9s %7s %7s %8s\n' case shale_s RSS_MB floor1_s floorP_s /floor1 /floorP hdr_s
printf '%s\n' "${rows[@]}"
printf '%s\n' "${rows[@]}" | awk '{ n=$1; for (i = 2; i <= NF-7; i++) n=n" "$i
  printf "goal %-24s within 1.3x of one core: %-6s faster than parallel: %-6s", n, ($(NF-2) <= 1.3 ? "met" : "missed"), ($(NF-1) < 1 ? "met" : "missed")
  if (n ~ /synthetic/) printf " peak RSS under 300 MB: %s", ($(NF-5) < 300 ? "met" : "missed")
  printf "\n" }'
