#!/usr/bin/env bash
# Installs what is needed, then runs the unit tests on Node 22, typechecks, and runs every test (unit,
# interop with Docker and skopeo) on Node 24. The summary of the Node 24 run closes the output.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run --silent package # dist/shale-linux-x64, which the single-executable test runs without Node
source scripts/node-runtime.sh
use_node 22
echo "== unit tests on Node $(node --version)"
node --test --test-concurrency=2 'dist/src/**/*.test.js'
use_node 24
npx tsc -p tsconfig.json --noEmit
echo "== all tests on Node $(node --version)"
node --test --test-concurrency=2 'dist/**/*.test.js'
