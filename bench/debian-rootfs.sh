#!/usr/bin/env bash
# Prints the path of a cached Debian bookworm minbase rootfs tar (~200 MB), making it once with debootstrap.
set -euo pipefail
cache="$(cd "$(dirname "$0")" && pwd)/.cache"
mkdir -p "$cache"
out="$cache/debian-bookworm-minbase.tar"
if [ ! -s "$out" ]; then
  dir="$cache/rootfs.tmp"
  rm -rf "$dir"
  echo "bench: debootstrap --variant=minbase bookworm (about a minute)" >&2
  debootstrap --variant=minbase bookworm "$dir" >"$cache/debootstrap.log" 2>&1
  tar --numeric-owner -C "$dir" -cf "$out.tmp" .
  mv "$out.tmp" "$out"
  rm -rf "$dir"
fi
echo "$out"
