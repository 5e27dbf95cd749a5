#!/usr/bin/env bash
# Prints the path of a cached Debian bookworm minbase rootfs tar (~200 MB), making it once with debootstrap.
# Callers may run at the same time (tests run concurrently): one makes it, the others wait for it.
set -euo pipefail
cache="$(cd "$(dirname "$0")" && pwd)/.cache"
mkdir -p "$cache"
out="$cache/debian-bookworm-minbase.tar"
exec 9>"$cache/debian-rootfs.lock"
flock 9
if [ ! -s "$out" ]; then
  dir="$cache/rootfs.tmp"
  # A run killed half-way can leave debootstrap's mounts (proc, sys) below the tree: never delete through them.
  findmnt -rn -o TARGET | grep -F "$dir/" | sort -r | while read -r m; do umount -l "$m"; done || true
  rm -rf "$dir"
  echo "bench: debootstrap --variant=minbase bookworm (about a minute)" >&2
  debootstrap --variant=minbase bookworm "$dir" >"$cache/debootstrap.log" 2>&1
  tar --numeric-owner -C "$dir" -cf "$out.tmp" .
  mv "$out.tmp" "$out"
  rm -rf "$dir"
fi
echo "$out"
