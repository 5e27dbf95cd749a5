#!/usr/bin/env bash
# Installs what is needed, then typechecks and runs every test (unit, interop with Docker and skopeo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc -p tsconfig.json --noEmit
node --test --test-concurrency=2 dist/
