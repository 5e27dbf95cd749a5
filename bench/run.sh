#!/usr/bin/env bash
# Runs every benchmark; each prints ratios against a peer measured side by side on the same input.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash bench/load-export.sh
bash bench/build.sh
bash bench/buildkit.sh
bash bench/container-run.sh
bash bench/analyze.sh
bash bench/registry.sh
