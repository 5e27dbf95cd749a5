#!/usr/bin/env bash
# Push and pull of a ~200 MB Debian image (one layer) to a local docker-registry on 127.0.0.1 (plain HTTP,
# filesystem storage): shale against `skopeo copy` for the same transfer, run alternately.
#   push: `shale push` (the stored uncompressed layer gzip-compressed while it is sent, the copy not yet
#         remembered: its record is removed before each run) against `skopeo copy --dest-compress-format
#         gzip oci:LAYOUT docker://...` from an OCI layout of the same uncompressed image (skopeo compresses
#         with parallel gzip). Pushed bytes are the registry's stored blob sizes after each.
#   pull: `shale pull` of the gzip image into an empty store, against `skopeo copy docker://... oci:DIR`
#         into an empty layout.
# Every push starts with an empty registry, every pull with an empty destination, both made before the clock starts. Prints median wall times
# of RUNS runs, the ratios shale/skopeo, shale's peak RSS and the pushed bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
RUNS=${RUNS:-5}
rootfs=$(bash bench/debian-rootfs.sh)
work=$(mktemp -d /var/tmp/shale-bench-registry.XXXXXX)
# the pid goes through a file: the timed runs start the registry in command-substitution subshells
stop_registry() {
  local pid
  pid=$(cat "$work/registry.pid" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  rm -f "$work/registry.pid"
}
trap 'stop_registry; rm -rf "$work"' EXIT

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
host="127.0.0.1:$port"
start_registry() { # a fresh, empty registry
  stop_registry
  rm -rf "$work/registry"
  mkdir -p "$work/registry"
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' "$work/registry" "$host" >"$work/registry.yml"
  docker-registry serve "$work/registry.yml" >>"$work/registry.log" 2>&1 &
  echo $! >"$work/registry.pid"
  for _ in $(seq 100); do curl -fs "http://$host/v2/" >/dev/null && return; sleep 0.1; done
  echo "registry did not start" >&2; cat "$work/registry.log" >&2; exit 1
}
# bytes of the blobs the registry stores
registry_bytes() { find "$work/registry/docker/registry/v2/blobs" -name data -type f -printf '%s\n' | awk '{t+=$1} END {print t}'; }

$shale --root "$work/seed" import "$rootfs" "$host/deb:1" >/dev/null
$shale --root "$work/seed" save --format oci-archive -o "$work/deb.oci.tar" "$host/deb:1"
mkdir -p "$work/layout" && tar -C "$work/layout" -xf "$work/deb.oci.tar" && rm "$work/deb.oci.tar"
echo "image: $(du -m "$rootfs" | cut -f1) MB (one uncompressed layer)"

timed() { local t0; t0=$(now); "$@" >/dev/null 2>&1; echo $(( $(now) - t0 )); }

# Each prints the nanoseconds of its transfer alone: the fresh registry and the emptied destination are
# made before the clock starts.
push_shale() {
  start_registry
  rm -rf "$work/seed/shale/compressed-layers" # compress again, as a first push does
  timed /usr/bin/time -f '%M' -o "$work/rss.push" $shale --root "$work/seed" push "$host/deb:1"
  registry_bytes >"$work/bytes.shale"
}
push_skopeo() {
  start_registry
  timed skopeo copy -q --dest-tls-verify=false --dest-compress --dest-compress-format gzip "oci:$work/layout:1" "docker://$host/deb:1"
  registry_bytes >"$work/bytes.skopeo"
}
pull_shale() { rm -rf "$work/pulled"; timed /usr/bin/time -f '%M' -o "$work/rss.pull" $shale --root "$work/pulled" pull "$host/deb:1"; }
pull_skopeo() { rm -rf "$work/pulled-oci"; timed skopeo copy -q --src-tls-verify=false "docker://$host/deb:1" "oci:$work/pulled-oci:deb"; }

ps=(); pk=(); ls=(); lk=()
for _ in $(seq "$RUNS"); do
  ps+=("$(push_shale)"); pk+=("$(push_skopeo)")
done
# pulls read what shale pushed: its gzip layer
push_shale >/dev/null
for _ in $(seq "$RUNS"); do
  ls+=("$(pull_shale)"); lk+=("$(pull_skopeo)")
done
# a second shale push and pull move nothing, and the second push compresses nothing
t0=$(now); $shale --root "$work/seed" push "$host/deb:1" >/dev/null 2>&1; again_push=$(( $(now) - t0 ))
t0=$(now); $shale --root "$work/pulled" pull "$host/deb:1" >/dev/null 2>&1; again_pull=$(( $(now) - t0 ))

line() { # name shale-ns skopeo-ns rss-file
  awk -v n="$1" -v s="$2" -v k="$3" -v r="$(cat "$4")" 'BEGIN {
    printf "%-6s shale %6.2fs  skopeo %6.2fs  shale/skopeo %.2f  shale peak RSS %d MB\n", n, s/1e9, k/1e9, s/k, r/1024 }'
}
line push "$(printf '%s\n' "${ps[@]}" | median)" "$(printf '%s\n' "${pk[@]}" | median)" "$work/rss.push"
line pull "$(printf '%s\n' "${ls[@]}" | median)" "$(printf '%s\n' "${lk[@]}" | median)" "$work/rss.pull"
awk -v s="$(cat "$work/bytes.shale")" -v k="$(cat "$work/bytes.skopeo")" 'BEGIN {
  printf "pushed bytes  shale %d  skopeo %d  shale/skopeo %.4f\n", s, k, s/k }'
awk -v p="$again_push" -v l="$again_pull" 'BEGIN { printf "again  shale push %.2fs, pull %.2fs (nothing transferred)\n", p/1e9, l/1e9 }'
