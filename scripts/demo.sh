#!/usr/bin/env bash
# The main job, as far as shale does it today: images as shared layers with the true disk use.
# Makes a busybox base, derives two images from it that share its layer, lists them and shows that
# the sum of the listed sizes is not what the disk holds (MISSION.md point 6).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
work=$(mktemp -d /var/tmp/shale-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
export SHALE_ROOT="$work/store"
shale() { node bin/shale "$@"; }

mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/busybox"
for a in sh ls cat echo rm dd mkdir; do ln -s busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/base.tar" .
echo "== shale import: a busybox root filesystem becomes a one-layer image"
shale import "$work/base.tar" seed/base:latest

echo "== two images on that base (made with the library: a layer appended to the base)"
node scripts/demo-derive.mjs "$SHALE_ROOT" seed/base:latest seed/app1:latest 20000000
node scripts/demo-derive.mjs "$SHALE_ROOT" seed/base:latest seed/app2:latest 100000000

echo "== shale images"
shale images
echo "== shale df: the listed sizes add up to more than the distinct layers take"
shale df
echo "== shale history seed/app2"
shale history seed/app2
echo "== save, load back into a new store, export the merged root filesystem"
shale save seed/app2 -o "$work/app2.tar"
SHALE_ROOT="$work/store2" node bin/shale load -i "$work/app2.tar"
SHALE_ROOT="$work/store2" node bin/shale export seed/app2 -o "$work/app2-rootfs.tar"
tar -tvf "$work/app2-rootfs.tar" | grep -E 'data|bin/busybox'
shale fsck
