#!/usr/bin/env bash
# Runs every benchmark; each prints ratios against a peer measured side by side on the same input.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/node-runtime.sh
use_node 24
bash bench/load-export.sh
bash bench/build.sh
bash bench/buildkit.sh
# storing a step's diff as a layer, against tar + sha256sum of the same directory: one 30.9 MB file
upper=$(mktemp -d /var/tmp/shale-bench-upper.XXXXXX)
mkdir "$upper/out" && busybox seq 1 4000000 >"$upper/out/numbers.txt"
node bench/put-layer.mjs dist "$upper" 5
rm -rf "$upper"
bash bench/container-run.sh
bash bench/rootless.sh
bash bench/analyze.sh
bash bench/registry.sh
bash bench/cache-registry.sh
bash bench/startup.sh
bash bench/list-commands.sh
bash bench/minify.sh
