#!/usr/bin/env bash
# The main job (MISSION.md): build the seed's two Dockerfiles on a busybox base, list them with the true
# disk use, analyze where the bytes go, slim the Dockerfile (proven by building both), squash the image;
# then a container over one, and the archive formats.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
work=$(mktemp -d /var/tmp/shale-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
export SHALE_ROOT="$work/store"
unset CI # CI=true turns on analyze's CI rules (as in dive); the demo shows the report, and the gate with --ci
shale() { bin/shale "$@"; }

mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/busybox"
for a in sh ls cat echo rm dd mkdir; do ln -s busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/base.tar" .
echo "== shale import: a busybox root filesystem becomes the base image"
shale import "$work/base.tar" busybox:seed

echo "== shale build: the seed's Dockerfiles (examples/seed), RUN steps in runc on overlayfs"
shale build -f examples/seed/Dockerfile.split -t seed:split examples/seed
shale build -f examples/seed/Dockerfile.chained -t seed:chained examples/seed

echo "== shale images: the split image carries the 52.4 MB its second RUN only hid"
shale images
echo "== shale df: the listed sizes add up to more than the distinct layers take"
shale df
echo "== shale history seed:split: the bytes sit in the dd layer; the rm layer is a whiteout"
shale history seed:split

echo "== shale analyze seed:split: 52.4 MB hidden, made by the dd RUN, hidden by the rm RUN, and the fix"
shale analyze seed:split
echo "== shale analyze --ci: dive's rules fail the split image (exit 1) and pass the chained one"
shale analyze seed:split --ci | tail -5 || echo "(exit $?: a CI gate would stop here)"
shale analyze seed:chained --ci | tail -5

echo "== shale lint: the size rules name both RUN lines"
shale lint -f examples/seed/Dockerfile.split examples/seed || echo "(exit $?: findings)"
echo "== shale slim --verify: the rewrite, both built and compared, the bytes saved"
shale slim --verify -f examples/seed/Dockerfile.split -t seed:slim examples/seed
echo "== shale squash: the layers above the busybox base merged into one, the base layer kept as it is"
shale squash seed:split -t seed:squashed
shale images

echo "== a container over seed:chained: one writable layer on the read-only image layers"
shale run --name demo seed:chained sh -c 'echo hello > /home/greeting; rm /bin/dd'
shale diff demo
shale commit -m 'greeting' demo seed:greeting
shale run --rm seed:greeting cat /home/greeting
shale rm demo

echo "== save, load into a second store, export the merged root filesystem"
shale save seed:split -o "$work/split.tar"
SHALE_ROOT="$work/store2" bin/shale load -i "$work/split.tar"
SHALE_ROOT="$work/store2" bin/shale export seed:split -o "$work/split-rootfs.tar"
tar -tvf "$work/split-rootfs.tar" | grep -E 'home|bin/busybox'
shale fsck
