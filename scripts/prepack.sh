#!/usr/bin/env bash
# `npm pack` from a fresh clone: fetch the build tools if they are missing (npm pack installs no
# devDependencies), then compile src/ only, so the package holds what runs and no tests.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x node_modules/.bin/tsc ] || npm ci --no-audit --no-fund --ignore-scripts
npm run build:package
