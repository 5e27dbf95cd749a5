#!/usr/bin/env bash
# load + export of a ~200 MB Debian image: shale against `docker load` + `docker export` of the same
# archive, and against the floor (reading the archive's layer with tar and hashing it with sha256sum; for the
# gzip form, gzip -dc and tar).
# Prints median wall times of RUNS runs, the ratios, and shale's peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
RUNS=${RUNS:-3}
rootfs=$(bash bench/debian-rootfs.sh)
work=$(mktemp -d /var/tmp/shale-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

$shale --root "$work/seed" import "$rootfs" bench/debian:latest >/dev/null
$shale --root "$work/seed" save bench/debian:latest -o "$work/debian.tar"
gzip -1 -c "$work/debian.tar" >"$work/debian.tar.gz"
layer=$(tar -tf "$work/debian.tar" | grep -E '^blobs/sha256/' | while read -r f; do s=$(tar -tvf "$work/debian.tar" "$f" | awk '{print $3}'); echo "$s $f"; done | sort -n | tail -1 | cut -d' ' -f2)
echo "archive: $(du -m "$work/debian.tar" | cut -f1) MB ($(du -m "$work/debian.tar.gz" | cut -f1) MB gzip), rootfs tar $(du -m "$rootfs" | cut -f1) MB"


time_shale() { # archive -> ns
  local archive=$1 store="$work/store"
  rm -rf "$store" "$work/out.tar"
  local t0; t0=$(now)
  /usr/bin/time -f '%M' -o "$work/rss.load" $shale --root "$store" load -i "$archive" >/dev/null
  /usr/bin/time -f '%M' -o "$work/rss.export" $shale --root "$store" export bench/debian:latest -o "$work/out.tar"
  echo $(( $(now) - t0 ))
}
time_docker() {
  local archive=$1
  docker rmi -f bench/debian:latest >/dev/null 2>&1 || true
  rm -f "$work/out.tar"
  local t0; t0=$(now)
  docker load -i "$archive" >/dev/null
  local c; c=$(docker create bench/debian:latest /bin/true)
  docker export "$c" -o "$work/out.tar"
  local t=$(( $(now) - t0 ))
  docker rm "$c" >/dev/null
  echo $t
}
time_floor() {
  local archive=$1 t0
  t0=$(now)
  # through a pipe: GNU tar skips reading when its output is /dev/null itself. The plain archive's floor
  # is reading its layer and hashing it (sha256sum), as the loader must; the gzip one is decompressing it.
  if [[ $archive == *.gz ]]; then gzip -dc "$archive" | tar -xO | cat >/dev/null; else tar -xOf "$archive" "$layer" | sha256sum >/dev/null; fi
  echo $(( $(now) - t0 ))
}

report() {
  local name=$1 archive=$2 s=() d=() f=()
  for _ in $(seq "$RUNS"); do
    s+=("$(time_shale "$archive")"); d+=("$(time_docker "$archive")"); f+=("$(time_floor "$archive")")
  done
  local ms md mf
  ms=$(printf '%s\n' "${s[@]}" | median); md=$(printf '%s\n' "${d[@]}" | median); mf=$(printf '%s\n' "${f[@]}" | median)
  awk -v n="$name" -v s="$ms" -v d="$md" -v f="$mf" -v rl="$(cat "$work/rss.load")" -v re="$(cat "$work/rss.export")" 'BEGIN {
    printf "%-22s shale %6.2fs  docker %6.2fs  floor %6.2fs  shale/docker %.2f  shale/floor %.2f  peak RSS load %d MB, export %d MB\n",
      n, s/1e9, d/1e9, f/1e9, s/d, s/f, rl/1024, re/1024 }'
}

report "load+export (tar)" "$work/debian.tar"
report "load+export (tar.gz)" "$work/debian.tar.gz"
docker rmi -f bench/debian:latest >/dev/null 2>&1 || true
